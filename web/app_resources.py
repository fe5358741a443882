"""Access to what create_app set up, from inside a request."""

from flask import current_app
from redis import Redis
from rq import Queue

from jobs.core.settings import Settings


def settings() -> Settings:
    return current_app.extensions["fibtastic"]["settings"]


def redis() -> Redis:
    return current_app.extensions["fibtastic"]["redis"]


def queue() -> Queue:
    return current_app.extensions["fibtastic"]["queue"]
