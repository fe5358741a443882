"""Fields on every log line while a request (``request_id``) or a job (``job_id`` and its submitting
``request_id``) is handled, so ``heroku logs | grep request_id=...`` follows a submission to the email.
Context variables survive the worker's ``fork()`` into the work-horse."""

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_fields: ContextVar[dict[str, str]] = ContextVar("fibtastic_log_fields", default={})  # noqa: B039 - never mutated

# Short and plain, so it cannot forge logfmt fields or fill the logs (https://devcenter.heroku.com/articles/http-request-id).
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:+/=-]{8,200}")


def request_id_from_header(value: str | None) -> str:
    if value and _VALID_REQUEST_ID.fullmatch(value):
        return value
    return str(uuid.uuid4())


def current_fields() -> dict[str, str]:
    return _fields.get()


def current_request_id() -> str | None:
    return _fields.get().get("request_id")


def bind(**fields: str | None):
    merged = {**_fields.get(), **{name: value for name, value in fields.items() if value}}
    return _fields.set(merged)


def unbind(token) -> None:
    _fields.reset(token)


@contextmanager
def bound(**fields: str | None) -> Iterator[None]:
    token = bind(**fields)
    try:
        yield
    finally:
        unbind(token)
