"""README "Add your own job", followed literally: its two code blocks, as
written there, become a job module and a view. The view enqueues the job, a
real worker runs it, its work-horse is SIGKILLed in the middle of the send,
and after the retry exactly one email has arrived; a rerun sends nothing.

The only liberty taken: the job module is written to a temporary package
(``readme_jobs``, on the worker's PYTHONPATH) instead of into this checkout's
``jobs/``, and the view's import of it says so."""

from __future__ import annotations

import os
import re
import signal
import sys

import pytest
from flask import Blueprint
from rq.job import Job

from jobs.core.at_most_once import claim_key
from tests.support.process_tree import work_horse_of
from tests.support.processes import PROJECT_ROOT, environment_for, python_process, wait_for
from tests.support.slow_smtp import StallingSmtpSink
from web import create_app

PACKAGE = "readme_jobs"


def readme_files() -> dict[str, str]:
    """The section's code blocks, by the file each is introduced with (a line like `jobs/welcome.py`:)."""
    readme = (PROJECT_ROOT / "README.md").read_text()
    section = readme[readme.index("## Add your own job\n") :]
    section = section.partition("\n## ")[0]  # to the next section, if any
    blocks = dict(re.findall(r"^`([\w/]+\.py)`:\n\n```python\n(.*?)^```", section, flags=re.MULTILINE | re.DOTALL))
    assert len(blocks) == 2, f"expected two files in README 'Add your own job', found {sorted(blocks)}"
    return blocks


@pytest.fixture
def stalling_sink():
    sink = StallingSmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def readme_job(tmp_path):
    """Step 1: the job module, importable here and by the worker. Yields
    (module name, the view's code with its import pointing there)."""
    files = readme_files()
    [job_path] = [path for path in files if path.startswith("jobs/")]
    [view_path] = [path for path in files if path.startswith("web/")]
    module = job_path.removesuffix(".py").replace("/", ".")  # jobs.welcome
    package = tmp_path / "readme_path" / PACKAGE
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / job_path.removeprefix("jobs/")).write_text(files[job_path])
    moved = module.replace("jobs.", f"{PACKAGE}.", 1)
    view = files[view_path]
    assert f"from {module} import" in view, "the view should import the job from the module step 1 created"
    sys.path.insert(0, str(package.parent))
    try:
        yield moved, view.replace(f"from {module} import", f"from {moved} import"), package.parent
    finally:
        sys.path.remove(str(package.parent))
        for name in [name for name in sys.modules if name == PACKAGE or name.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def app_with_readme_view(view_code: str, settings, csrf: bool = False):
    """Step 2: the view, on a blueprint of its own (the README puts it on pages')."""
    bp = Blueprint("readme", __name__)
    exec(compile(view_code, "README.md (web/pages.py)", "exec"), {"bp": bp, "__name__": "readme_view"})  # noqa: S102 - the README's own code
    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": csrf, "FIBTASTIC_SETTINGS": settings})
    app.register_blueprint(bp)
    return app


def test_a_job_added_as_the_readme_says_runs_once_through_a_killed_work_horse(
    settings_with, stalling_sink, redis_conn, queue, tmp_path, readme_job
):
    module, view_code, import_root = readme_job
    settings = settings_with(smtp_url=stalling_sink.url, retry_intervals=(1,), mail_timeout=60)
    client = app_with_readme_view(view_code, settings).test_client()

    response = client.post("/welcome", data={"email": "newcomer@example.com", "name": "Ada"})
    assert response.status_code == 303
    job_id = response.headers["Location"].rsplit("/", 1)[1]
    job = Job.fetch(job_id, connection=redis_conn)
    assert job.func_name == f"{module}.send_welcome_email"
    assert "newcomer@example.com" not in job.description

    stalling_sink.stall_seconds = 600  # the first send hangs at RCPT TO: in the middle, nothing handed over
    env = environment_for(settings, PYTHONPATH=os.pathsep.join([str(import_root), str(PROJECT_ROOT)]))
    worker = python_process(["-m", "worker"], env, tmp_path / "worker.log")
    try:
        assert stalling_sink.stalled.wait(30), worker.output()
        horse = wait_for(lambda: work_horse_of(worker.pid), timeout=10, what="the work-horse")
        assert redis_conn.exists(claim_key(job_id))
        stalling_sink.stall_seconds = 0
        os.kill(horse, signal.SIGKILL)  # as the kernel's OOM killer would
        wait_for(lambda: job.get_status(refresh=True) == "finished", timeout=60, interval=0.2, what="the retry to send")
        [received] = stalling_sink.wait_for_messages(1)
        assert received.recipients == ["newcomer@example.com"]
        assert "Welcome to FibTastic, Ada!" in received.part("text/plain")
        # The retry could send at once: the worker released the dead run's
        # claim (it would otherwise have held for JOB_TIMEOUT + 60 s).
        assert "released the claim of a run that died" in worker.output()
        assert job.return_value() == {"sent": True}

        # Run again (its id delivered twice): nothing more is sent.
        queue.enqueue_job(job)
        wait_for(lambda: job.return_value(refresh=True) == {"already_done": True}, timeout=30, what="the rerun")
    finally:
        worker.stop()
    assert len(stalling_sink.messages) == 1

    # Its status, in the job's own words and with what every job has.
    status = client.get(f"/api/jobs/{job_id}").get_json()
    assert status["status"] == "finished" and status["label"] == "Sent" and status["title"] == "Your welcome email"
    assert status["display"] == [] and "length" not in status
    page = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert "<h1>Your welcome email</h1>" in page


def test_its_form_sent_with_an_expired_token_gets_a_page_saying_so_that_links_back_to_it(settings, redis_conn, queue, readme_job):
    _, view_code, _ = readme_job
    client = app_with_readme_view(view_code, settings, csrf=True).test_client()
    form = {"email": "newcomer@example.com", "name": "Ada"}  # no csrf_token: as after the session ended

    answer = client.post("/welcome", data=form, headers={"Referer": "http://localhost/signup?step=2"})
    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    assert "The form expired" in page and '<a href="http://localhost/signup?step=2">Back to the form</a>' in page
    assert 'id="sequence-form"' not in page and "Fibonacci" not in page  # not the example's form
    # A link back only to this site: a Referer elsewhere (or none) links to the start.
    for headers in ({"Referer": "https://elsewhere.example/signup"}, {}):
        page = client.post("/welcome", data=form, headers=headers).get_data(as_text=True)
        assert "elsewhere.example" not in page and '<a href="/">Back to the start</a>' in page
    assert queue.count == 0
