"""Access to what create_app set up, from inside a request; and its Redis connection opened as a process starts."""

from contextlib import suppress

from flask import Flask, current_app
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue

from jobs.core.settings import Settings


def settings() -> Settings:
    return current_app.extensions["fibtastic"]["settings"]


def redis() -> Redis:
    return current_app.extensions["fibtastic"]["redis"]


def queue() -> Queue:
    return current_app.extensions["fibtastic"]["queue"]


def connect_now(app: Flask) -> None:
    """Opens the app's Redis connection before its first request (gunicorn.conf.py's post_worker_init), so a
    worker dyno sizing its pool to the plan counts it (docs/redis-plans.md). Redis away: the first request
    connects instead. An app create_app did not build (bench/apps.py's bare peer) has none to open."""
    resources = getattr(app, "extensions", {}).get("fibtastic")
    if resources is not None:
        with suppress(RedisError):
            resources["redis"].ping()
