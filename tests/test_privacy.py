"""Addresses stay out of logs and Sentry; secrets never get there."""

from __future__ import annotations

import subprocess
import sys

from jobs.core import error_reporting
from jobs.core.privacy import mask_emails_in
from jobs.tasks import enqueue_fibonacci_email
from tests.support.processes import environment_for, free_port, python_process


def test_addresses_in_free_text_are_masked():
    assert mask_emails_in("550 5.1.1 <nobody@example.com>: Recipient address rejected") == (
        "550 5.1.1 <n***@example.com>: Recipient address rejected"
    )
    assert mask_emails_in("to=ada.lovelace+x@sub.example.org, jöran@exämple.org") == "to=a***@sub.example.org, j***@exämple.org"
    assert mask_emails_in("rq 3.0.0, 127.0.0.1:6379, a***@example.com") == "rq 3.0.0, 127.0.0.1:6379, a***@example.com"


def test_a_failed_job_logs_no_address_even_from_the_mail_servers_reply(settings_with, smtp_sink, queue, redis_conn, tmp_path):
    smtp_sink.reply = "550 5.1.1 <nobody@example.com>: Recipient address rejected"
    settings = settings_with(smtp_url=smtp_sink.url, smtp_url_is_explicit=True, secret_key="s3cret-" * 6)
    enqueue_fibonacci_email(queue, settings, "nobody@example.com", 5)
    env = environment_for(settings, SENDGRID_API_KEY="")
    process = python_process(["-m", "worker", "--burst"], env, tmp_path / "worker.log")
    assert process.wait(60) == 0
    process.stop()
    output = process.output()
    assert "Recipient address rejected" in output  # the failure is logged...
    assert "nobody@example.com" not in output and "n***@example.com" in output  # ...masked
    assert settings.secret_key not in output


def test_web_logs_carry_no_address(settings_with, redis_conn, caplog):
    from web import create_app

    client = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "FIBTASTIC_SETTINGS": settings_with()}).test_client()
    with caplog.at_level("DEBUG"):
        client.post("/api/sequences", json={"email": "ada@example.com", "length": 5})
        client.post("/api/sequences", json={"email": "ada@example.com", "length": 0})
        client.post("/sequences", data={"email": "ada@example.com", "length": "x"})
    assert "ada@example.com" not in caplog.text


def test_sentry_events_are_scrubbed_and_request_bodies_never_sent(settings_with):
    event = {
        "exception": {"values": [{"type": "PermanentMailError", "value": "the mail server answered 550 <ada@example.com>"}]},
        "logentry": {"message": "email to ada@example.com failed"},
        "extra": {"rq-job": {"description": "send_fibonacci_email(to=a***@example.com, length=5)", "args": "[Filtered]"}},
        "breadcrumbs": {"values": [{"message": "sending to grace@example.com"}]},
    }
    scrubbed = error_reporting.scrub_event([])(event, {})
    assert "ada@example.com" not in repr(scrubbed) and "grace@example.com" not in repr(scrubbed)
    assert scrubbed["exception"]["values"][0]["value"] == "the mail server answered 550 <a***@example.com>"

    # The options Sentry really runs with, in a process of its own (Sentry's
    # integrations patch RQ and Flask for good; a DSN nothing listens on).
    script = (
        "from jobs.core import error_reporting; from jobs.core.settings import load_settings; import sentry_sdk; "
        "assert error_reporting.init_sentry(load_settings(), []); o = sentry_sdk.get_client().options; "
        "print(o['send_default_pii'], o['max_request_body_size'], o['before_send'].__qualname__)"
    )
    env = environment_for(settings_with(), SENTRY_DSN=f"http://key@127.0.0.1:{free_port()}/1")
    result = subprocess.run([sys.executable, "-W", "ignore", "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == ["False", "never", "scrub_event.<locals>.before_send"], result.stderr
