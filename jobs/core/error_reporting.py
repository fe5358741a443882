"""Sentry, once per process when SENTRY_DSN is set. Every event has secrets ``[Filtered]`` and addresses
masked wherever they appear (mail servers' replies, every frame's local variables)."""

import dataclasses
from collections.abc import Iterable
from urllib.parse import urlsplit

import sentry_sdk

from jobs.core.privacy import mask_emails_in
from jobs.core.settings import Settings

FILTERED = "[Filtered]"
# Settings whose whole value is a secret, by name.
_SECRET_FIELD_SUFFIXES = ("_key", "_password", "_secret", "_token")


def secrets_of(settings: Settings) -> list[str]:
    texts = {name: value for name, value in dataclasses.asdict(settings).items() if isinstance(value, str)}
    found = {value for name, value in texts.items() if name.endswith(_SECRET_FIELD_SUFFIXES)}
    found |= {urlsplit(value).password for name, value in texts.items() if name.endswith("_url")}
    # Longest first, so a secret containing another is filtered whole.
    return sorted(found - {None, ""}, key=len, reverse=True)


def scrub(value, secrets: Iterable[str]):
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, FILTERED)
        return mask_emails_in(value)
    if isinstance(value, dict):
        return {scrub(key, secrets): scrub(item, secrets) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(scrub(item, secrets) for item in value)
    return value


def scrub_event(secrets: list[str]):
    def before_send(event, hint):
        return scrub(event, secrets)

    return before_send


def init_sentry(settings: Settings, integrations: list) -> bool:
    """Returns whether Sentry is on."""
    if sentry_sdk.is_initialized() or not settings.sentry_dsn:
        return sentry_sdk.is_initialized()
    before_send = scrub_event(secrets_of(settings))
    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.environment,
        release=settings.release,
        integrations=integrations,
        # Never send email addresses, cookies or request bodies to Sentry.
        send_default_pii=False,
        max_request_body_size="never",
        traces_sample_rate=settings.sentry_traces_sample_rate,
        before_send=before_send,
        before_send_transaction=before_send,
    )
    return True


def set_tags(**tags: str | None) -> None:
    for name, value in tags.items():
        if value:
            sentry_sdk.set_tag(name, value)
