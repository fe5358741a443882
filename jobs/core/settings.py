"""Every setting FibTastic reads from the environment; nothing else touches ``os.environ``. ``DYNO`` (set on
every Heroku dyno, https://devcenter.heroku.com/articles/dyno-metadata) means production: refuse to start
with missing secrets instead of failing at the first email."""

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from croniter import croniter

T = TypeVar("T")


class ConfigurationError(RuntimeError):
    """A setting is missing or invalid; the message says which and how to fix it."""


# The readers return None for an unset or blank variable, so the default is the Settings field's own.
def _text(environ: Mapping[str, str], name: str) -> str | None:
    return environ.get(name, "").strip() or None


def _parsed(environ: Mapping[str, str], name: str, parse: Callable[[str], T], expected: str, valid=lambda value: True) -> T | None:
    raw = _text(environ, name)
    if raw is None:
        return None
    try:
        value = parse(raw)
        if valid(value):
            return value
    except ValueError:
        pass
    raise ConfigurationError(f"{name} must be {expected}, not {raw!r}") from None


def _integer(environ: Mapping[str, str], name: str) -> int | None:
    return _parsed(environ, name, int, "at least 1, a whole number", lambda value: value >= 1)


def _intervals(environ: Mapping[str, str], name: str) -> tuple[int, ...] | None:
    parse = lambda raw: tuple(int(part) for part in raw.split(","))  # noqa: E731
    return _parsed(environ, name, parse, "comma-separated seconds, like 10,30,120", lambda values: min(values) >= 0)


def _fraction(environ: Mapping[str, str], name: str) -> float | None:
    return _parsed(environ, name, float, "a number from 0 to 1, like 0.1", lambda value: 0 <= value <= 1)


_SWITCH = {"on": True, "true": True, "yes": True, "1": True, "off": False, "false": False, "no": False, "0": False}


def _switch(environ: Mapping[str, str], name: str) -> bool | None:
    value = _parsed(environ, name, str.lower, "on or off", _SWITCH.__contains__)
    return None if value is None else _SWITCH[value]


def _log_level(environ: Mapping[str, str], name: str) -> str | None:
    return _parsed(environ, name, str.upper, "DEBUG, INFO, WARNING, ERROR or CRITICAL", logging.getLevelNamesMapping().__contains__)


def _environment(environ: Mapping[str, str], on_heroku: bool) -> str | None:
    """Sentry's environment: SENTRY_ENVIRONMENT, else what runs this. Heroku CI sets CI and HEROKU_TEST_RUN_ID
    (https://devcenter.heroku.com/articles/heroku-ci#immutable-environment-variables); review apps get
    HEROKU_BRANCH, and HEROKU_PR_NUMBER when created for a pull request
    (https://devcenter.heroku.com/articles/github-integration-review-apps#injected-environment-variables)."""
    if _text(environ, "SENTRY_ENVIRONMENT"):
        return _text(environ, "SENTRY_ENVIRONMENT")
    if _text(environ, "HEROKU_TEST_RUN_ID") or (_text(environ, "CI") or "false").lower() not in ("false", "0"):
        return "ci"
    if _text(environ, "HEROKU_PR_NUMBER") or _text(environ, "HEROKU_BRANCH"):
        return "review"
    return "production" if on_heroku else None


def _schedule(environ: Mapping[str, str], name: str) -> str | None:
    if environ.get(name, "").strip().lower() in ("", "off"):
        return None
    return _parsed(environ, name, str, "a cron expression like '*/10 * * * *', or off", croniter.is_valid)


@dataclass(frozen=True)
class Settings:
    redis_url: str = "redis://localhost:6379"
    # Check a rediss:// server's certificate. Off only by default on Heroku (load_settings), whose Key-Value Store
    # certificate is self-signed: https://devcenter.heroku.com/articles/connecting-heroku-redis#connecting-in-python
    redis_verify_certificate: bool = True
    smtp_url: str = "smtp://localhost:1025"
    smtp_url_is_explicit: bool = False
    sendgrid_api_key: str | None = None
    # Only tests and benchmarks point the real sendgrid client at a local stand-in.
    sendgrid_api_host: str = "https://api.sendgrid.com"
    mail_from: str = "FibTastic <fibtastic@localhost>"
    mail_from_is_explicit: bool = False
    # Seconds per SMTP conversation or SendGrid request; the sendgrid library waits forever by default.
    mail_timeout: int = 10
    secret_key: str | None = None
    sentry_dsn: str | None = None
    # Share of requests and jobs traced; 0 sends errors only (traces count against Sentry's quota).
    sentry_traces_sample_rate: float = 0.0
    max_sequence_length: int = 1000
    queue_name: str = "default"
    # Waits between retries of a failed or interrupted job; one retry per entry.
    retry_intervals: tuple[int, ...] = (10, 30, 120, 600)
    job_timeout: int = 120
    on_heroku: bool = False
    environment: str = "development"
    release: str | None = None
    log_level: str = "INFO"
    # Seconds between looks for jobs whose worker died, and between heartbeats (worker/__main__.py).
    worker_maintenance_interval: int = 15
    worker_job_monitoring_interval: int = 10
    # 1: HerokuWorker, a work-horse per job; N > 1: N in-process workers (worker/pool.py, docs/benchmarks.md).
    worker_concurrency: int = 1
    # flask-limiter's notation ("10 per minute", "5/hour", "100/day;10/minute").
    rate_limit_per_ip: str = "10 per minute"
    rate_limit_per_recipient: str = "5 per hour"
    # HTTP basic auth for the queue dashboard at /rq; without both it is off (404).
    rq_dashboard_username: str | None = None
    rq_dashboard_password: str | None = None
    port: int = 5000
    web_concurrency: int = 2
    # The example periodic job (jobs/schedule.py); None: never.
    queue_report_schedule: str | None = "*/10 * * * *"

    @property
    def rq_dashboard_enabled(self) -> bool:
        return bool(self.rq_dashboard_username and self.rq_dashboard_password)

    @property
    def mail_backend(self) -> str:
        return "sendgrid" if self.sendgrid_api_key else "smtp"

    def check_for_production(self) -> None:
        """Raise ConfigurationError listing every setting Heroku needs but lacks."""
        problems = []
        if not self.secret_key:
            problems.append(
                "SECRET_KEY is not set (heroku config:set SECRET_KEY=$(python -c 'import secrets; print(secrets.token_hex(32))'))"
            )
        elif len(self.secret_key) < 32:
            problems.append("SECRET_KEY is shorter than 32 characters; use a long random value")
        if not self.sendgrid_api_key and not self.smtp_url_is_explicit:
            problems.append("SENDGRID_API_KEY is not set (or set SMTP_URL to use another SMTP provider)")
        if not self.mail_from_is_explicit:
            problems.append("MAIL_FROM is not set (a sender address verified with your mail provider)")
        if problems:
            raise ConfigurationError("FibTastic cannot start on Heroku: " + "; ".join(problems))


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    on_heroku = bool(env.get("DYNO"))
    read = {
        "redis_url": _text(env, "REDIS_URL"),
        "redis_verify_certificate": _switch(env, "REDIS_VERIFY_CERTIFICATE"),
        "smtp_url": _text(env, "SMTP_URL"),
        "smtp_url_is_explicit": _text(env, "SMTP_URL") is not None,
        "sendgrid_api_key": _text(env, "SENDGRID_API_KEY"),
        "sendgrid_api_host": _text(env, "SENDGRID_API_HOST"),
        "mail_from": _text(env, "MAIL_FROM"),
        "mail_from_is_explicit": _text(env, "MAIL_FROM") is not None,
        "mail_timeout": _integer(env, "MAIL_TIMEOUT"),
        "secret_key": _text(env, "SECRET_KEY"),
        "sentry_dsn": _text(env, "SENTRY_DSN"),
        "sentry_traces_sample_rate": _fraction(env, "SENTRY_TRACES_SAMPLE_RATE"),
        "max_sequence_length": _integer(env, "MAX_SEQUENCE_LENGTH"),
        "queue_name": _text(env, "QUEUE_NAME"),
        "retry_intervals": _intervals(env, "RETRY_INTERVALS"),
        "job_timeout": _integer(env, "JOB_TIMEOUT"),
        "on_heroku": on_heroku,
        "environment": _environment(env, on_heroku),
        # Heroku's dyno metadata (heroku labs:enable runtime-dyno-metadata).
        "release": _text(env, "HEROKU_SLUG_COMMIT") or _text(env, "HEROKU_RELEASE_VERSION"),
        "log_level": _log_level(env, "LOG_LEVEL"),
        "worker_maintenance_interval": _integer(env, "WORKER_MAINTENANCE_INTERVAL"),
        "worker_job_monitoring_interval": _integer(env, "WORKER_JOB_MONITORING_INTERVAL"),
        "worker_concurrency": _integer(env, "WORKER_CONCURRENCY"),
        "rate_limit_per_ip": _text(env, "RATE_LIMIT_PER_IP"),
        "rate_limit_per_recipient": _text(env, "RATE_LIMIT_PER_RECIPIENT"),
        "rq_dashboard_username": _text(env, "RQ_DASHBOARD_USERNAME"),
        "rq_dashboard_password": _text(env, "RQ_DASHBOARD_PASSWORD"),
        "port": _integer(env, "PORT"),
        "web_concurrency": _integer(env, "WEB_CONCURRENCY"),
    }
    values = {name: value for name, value in read.items() if value is not None}
    values.setdefault("redis_verify_certificate", not on_heroku)
    if "QUEUE_REPORT_SCHEDULE" in env:  # set, even to nothing: off or empty is never
        values["queue_report_schedule"] = _schedule(env, "QUEUE_REPORT_SCHEDULE")
    return Settings(**values)
