"""The status page and API for any job: what every job has, the fields and
wording a job declares with @presented_as (jobs/core/presentation.py), and
generic wording for a job that declares none."""

from __future__ import annotations

from rq.job import Job

from jobs.core.enqueue_policy import enqueue, failure_reason
from jobs.tasks import enqueue_fibonacci_email
from tests.support import guarded_jobs

COMMON = {"id", "status", "label", "final", "enqueued_at", "started_at", "ended_at", "error", "attempts", "title", "display"}


def abandon(job: Job, queue) -> None:
    """What RQ's maintenance does to a job whose worker died: public
    StartedJobRegistry.cleanup on an entry whose heartbeat is long gone."""
    job.set_status("started")
    queue.connection.zadd(queue.started_job_registry.key, {f"{job.id}:lost-execution": 1})
    queue.started_job_registry.cleanup()


def test_a_job_that_declares_nothing_gets_the_common_fields_and_generic_words(client, settings_with, queue):
    job = enqueue(queue, settings_with(retry_intervals=(60,)), guarded_jobs.count, "test:counter")
    body = client.get(f"/api/jobs/{job.id}").get_json()
    assert set(body) == COMMON
    assert body["title"] == "Your job" and body["display"] == [] and body["label"] == "Queued" and body["final"] is False

    abandon(job, queue)  # it waits 60 s for its retry, showing why
    body = client.get(f"/api/jobs/{job.id}").get_json()
    assert body["label"] == "Waiting to retry"
    assert body["error"] == "the worker stopped while running the job (it was restarted or ran out of memory)"
    assert body["attempts"] == 1


def test_the_fibonacci_job_declares_its_length_title_and_words(client, settings_with, queue):
    job = enqueue_fibonacci_email(queue, settings_with(retry_intervals=(60,)), "ada@example.com", 10)
    body = client.get(f"/api/jobs/{job.id}").get_json()
    assert set(body) == COMMON | {"length"}
    assert body["length"] == 10 and body["display"] == ["length"] and body["title"] == "Your 10 Fibonacci numbers"
    page = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert "<h1>Your 10 Fibonacci numbers</h1>" in page and "<dt>Length</dt><dd>10</dd>" in page
    assert 'data-final="false"' in page

    abandon(job, queue)
    reason = client.get(f"/api/jobs/{job.id}").get_json()["error"]
    assert reason == "the worker stopped while sending (it was restarted or ran out of memory)"


def test_a_final_status_is_marked_for_the_page_script(client, settings, queue):
    job = enqueue(queue, settings, guarded_jobs.count, "test:counter")
    job.set_status("failed")
    page = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert 'data-final="true"' in page and 'Status: <strong id="job-status">Failed</strong>' in page


class SoldOut(Exception):
    """What a fork's own job might raise: README "Add your own job"."""

    permanent = True
    user_message = "that item is sold out"


class Unworded(Exception):
    permanent = True


def test_an_exception_says_what_users_see_with_user_message_never_with_its_text(settings, queue):
    job = enqueue(queue, settings, guarded_jobs.count, "test:counter")
    assert failure_reason(job, SoldOut, SoldOut("supplier api.example:443 answered 410 for ada@example.com")) == "that item is sold out"
    # Without one, its text (hosts, addresses, a provider's reply) is not shown either.
    assert failure_reason(job, Unworded, Unworded("db.internal:5432 refused ada@example.com")) == "an unexpected error occurred (Unworded)"
