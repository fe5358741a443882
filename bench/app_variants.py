"""The app with one feature switched off, for `make bench` to price that feature in the same run.
Benchmark only: ``gunicorn "bench.app_variants:without_rate_limits()"`` (the Procfile's web line otherwise)."""

from flask import Flask

from web import create_app


def without_rate_limits() -> Flask:
    # flask-limiter's documented switch (RATELIMIT_ENABLED): the decorators stay, no limit is checked or counted.
    return create_app({"RATELIMIT_ENABLED": False})
