"""Sentry, initialised once per process and only when SENTRY_DSN is set."""

from __future__ import annotations

from typing import Any

from jobs.privacy import mask_emails_in
from jobs.settings import Settings

_initialised = False


def mask_addresses(value: Any) -> Any:
    """``value`` (an event or part of one) with every address in its strings masked."""
    if isinstance(value, str):
        return mask_emails_in(value)
    if isinstance(value, dict):
        return {key: mask_addresses(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [mask_addresses(item) for item in value]
    return value


def scrub_event(event: dict, hint: dict) -> dict:
    """Sentry before_send: exception messages (a mail server's reply) and log
    messages can carry a recipient's address."""
    return mask_addresses(event)


def scrub_breadcrumb(crumb: dict, hint: dict) -> dict:
    return mask_addresses(crumb)


def init_sentry(settings: Settings, integrations: list) -> bool:
    """Start Sentry for this process; returns whether it is on."""
    global _initialised
    if _initialised or not settings.sentry_dsn:
        return _initialised
    import sentry_sdk

    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.environment,
        release=settings.release,
        integrations=integrations,
        # Never send email addresses, cookies or request bodies to Sentry.
        send_default_pii=False,
        # send_default_pii does not cover request bodies: Sentry attaches
        # them regardless, and ours hold the recipient's address.
        max_request_body_size="never",
        before_send=scrub_event,
        before_breadcrumb=scrub_breadcrumb,
        traces_sample_rate=0.0,
    )
    _initialised = True
    return True
