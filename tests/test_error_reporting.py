"""What leaves for Sentry is scrubbed: secrets filtered, addresses masked."""

from jobs.core.error_reporting import scrub, secrets_of
from jobs.core.settings import Settings


def test_secrets_are_every_key_and_every_password_in_a_url():
    settings = Settings(
        secret_key="s" * 40,
        sendgrid_api_key="SG.abcdef",
        redis_url="rediss://:redis-password-123@ec2.example:6380",
        smtp_url="smtp://user:smtp-password@mail.example:587",
    )
    assert set(secrets_of(settings)) == {"s" * 40, "SG.abcdef", "redis-password-123", "smtp-password"}


def test_scrub_reaches_every_string_in_an_event():
    event = {
        "exception": {"values": [{"value": "550 <ada@example.com>: no", "stacktrace": {"frames": [{"vars": {"key": "'SG.abcdef'"}}]}}]},
        "breadcrumbs": {"values": [{"message": "to=grace@example.com"}]},
        "tags": {"request_id": "abc"},
        "level": 40,
    }
    scrubbed = scrub(event, ["SG.abcdef"])
    assert scrubbed["exception"]["values"][0]["value"] == "550 <a***@example.com>: no"
    assert scrubbed["exception"]["values"][0]["stacktrace"]["frames"][0]["vars"]["key"] == "'[Filtered]'"
    assert scrubbed["breadcrumbs"]["values"][0]["message"] == "to=g***@example.com"
    assert scrubbed["tags"] == {"request_id": "abc"} and scrubbed["level"] == 40
