"""The worker's peer: Celery running the same email code against the same Redis and SendGrid stand-in.

Run from .venv-celery (see bench/requirements.txt):
    celery -A bench.celery_app worker --pool threads --concurrency 16
The task calls the same mailer and email code as FibTastic's RQ job, minus
RQ's bookkeeping (sent marker, failure callback), which Celery does not have.
"""

from celery import Celery

from jobs.core.worker_resources import worker_mailer, worker_settings
from jobs.email_content import fibonacci_email

settings = worker_settings()
app = Celery("fibtastic_bench", broker=settings.redis_url)
app.conf.update(
    task_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,
    # Like RQ: a job is acknowledged when it has run, and one is fetched at a time.
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    worker_hijack_root_logger=False,
    # kombu's Redis transport allows 10 connections by default; with more slots
    # than that (64 gevent greenlets, once) acks failed with MaxConnectionsError
    # and messages were redelivered. Room for every slot.
    broker_transport_options={"max_connections": 256},
)


@app.task(name="send_fibonacci_email")
def send_fibonacci_email(recipient: str, length: int) -> None:
    worker_mailer().send(fibonacci_email(settings.mail_from, recipient, length))
