"""CPU and memory of one SendGrid send in a single process, against the
stand-in answering at once: CPU ms per send (the stand-in's share included)
and the process's USS after 10, 50, 100, 200 and 300 sends.

    python -m bench.send_cost
"""

from __future__ import annotations

import time

import psutil

from jobs.core.mail import mailer_from_settings
from jobs.core.settings import Settings
from jobs.email_content import fibonacci_email
from tests.support.sendgrid_stub import SendGridStub


def uss_mib() -> float:
    return psutil.Process().memory_full_info().uss / 1024 / 1024


def main() -> None:
    stub = SendGridStub().start()
    try:
        settings = Settings(redis_url="redis://unused", sendgrid_api_key=stub.api_key, sendgrid_api_host=stub.host)
        mailer = mailer_from_settings(settings)
        email = fibonacci_email(settings.mail_from, "reader@example.com", 10)
        mailer.send(email)
        print(f"USS after the first send: {uss_mib():.1f} MiB")
        began = time.process_time()
        for sent in range(1, 301):
            mailer.send(email)
            if sent in (10, 50, 100, 200, 300):
                print(f"after {sent} more sends: USS {uss_mib():.1f} MiB")
        print(f"CPU per send: {(time.process_time() - began) * 1000 / 300:.2f} ms (USS reads included)")
    finally:
        stub.stop()


if __name__ == "__main__":
    main()
