"""Sentry, initialised once per process and only when SENTRY_DSN is set."""

from __future__ import annotations

from jobs.settings import Settings

_initialised = False


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
        traces_sample_rate=0.0,
    )
    _initialised = True
    return True
