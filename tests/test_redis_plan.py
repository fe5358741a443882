"""The app inside the Redis plan app.json provisions (heroku-redis:mini: 20 connections, 25 MB, noeviction),
booted with the Deploy button's config vars (tests/support/heroku_app.py) on a Redis served like mini
(tests/conftest.py mini_redis: TLS, a password, those limits). docs/redis-plans.md has the budget these check."""

from __future__ import annotations

import base64
import threading
from collections import Counter

import pytest
import redis
from rq.job import Job

from jobs.core.connection import get_queue
from jobs.core.settings import load_settings
from jobs.tasks import enqueue_fibonacci_email
from tests.support.heroku_app import DeployedApp
from tests.support.processes import wait_for
from tests.support.reporting import report_figures
from tests.support.worker_log import traceback_reports

pytestmark = pytest.mark.slow

# docs/redis-plans.md: the connections each process type holds.
PER_WEB_PROCESS = 1
WORKER_DYNO_IDLE = 4  # the worker and its pubsub, the retries' and the periodic jobs' schedulers
PER_RUNNING_JOB = 1  # a work-horse's own (WORKER_CONCURRENCY=1)
PER_POOL_WORKER = 1
# The filling test's submitters keep at most this many jobs waiting for the worker.
QUEUED_AT_MOST = 20


@pytest.fixture
def deployed(mini_redis, tmp_path):
    apps: list[DeployedApp] = []

    def deploy(**config_set) -> DeployedApp:
        app = DeployedApp(mini_redis.url, tmp_path, config_set={"RQ_DASHBOARD_USERNAME": "operator", **config_set}, sendgrid_delay=0.2)
        apps.append(app)
        return app

    yield deploy
    for app in apps:
        app.stop()


class ConnectionWatch:
    """The most connections Redis had while it runs, sampled every 20 ms, less the watch's own two."""

    def __init__(self, server) -> None:
        self.client, self.sampler = server.client(), server.client()
        self.most = 0
        self.at_most: list[dict] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)

    def now(self, client=None) -> int:
        return (client or self.client).info("clients")["connected_clients"] - 2

    def sample(self) -> None:
        while not self.stopped.wait(0.02):
            now = self.now(self.sampler)
            if now > self.most:
                self.most, self.at_most = now, self.sampler.client_list()

    def __enter__(self) -> ConnectionWatch:
        self.now()  # both connected before the first sample
        self.thread.start()
        return self

    def __exit__(self, *_) -> None:
        self.stopped.set()
        self.thread.join()

    def clients(self) -> str:
        return "\n".join(f"{client['id']} age={client['age']} name={client['name']} cmd={client['cmd']}" for client in self.at_most)

    def rejected(self) -> int:
        return self.client.info("stats")["rejected_connections"]


def browse_the_dashboard(app: DeployedApp, times: int) -> None:
    credentials = base64.b64encode(f"operator:{app.config['RQ_DASHBOARD_PASSWORD']}".encode()).decode()
    auth = {"Authorization": f"Basic {credentials}"}
    for _ in range(times):
        for path in ("/rq/", "/rq/0/data/queues.json", "/rq/0/data/workers.json"):
            assert app.get(path, headers=auth)[0] == 200


def delivered(app: DeployedApp) -> Counter:
    """Emails SendGrid's stand-in accepted, by recipient."""
    return Counter(body["personalizations"][0]["to"][0]["email"] for body in app.sendgrid.accepted)


def test_the_default_formation_fits_mini_with_room_for_a_second_worker_dyno(deployed, mini_redis, tmp_path):
    app = deployed()
    with ConnectionWatch(mini_redis) as watch:
        app.start("web")
        browse_the_dashboard(app, 10)
        web_connections = watch.now()
        app.start("worker")
        wait_for(lambda: watch.now() - web_connections >= WORKER_DYNO_IDLE, timeout=30, what="the worker dyno to connect")
        app.start("worker", number=2)
        wait_for(lambda: watch.now() - web_connections >= 2 * WORKER_DYNO_IDLE, timeout=30, what="the second worker dyno")
        idle = watch.now()
        # Both worker dynos busy (a work-horse each, SendGrid answering in 200 ms), the dashboard open.
        accepted = [app.submit(f"reader{n}@example.com", client_ip=f"203.0.113.{n}")[1] for n in range(8)]
        browse_the_dashboard(app, 10)
        wait_for(lambda: sum(delivered(app).values()) == len(accepted), timeout=60, what="every email")
    assert None not in accepted
    assert web_connections <= 2 * PER_WEB_PROCESS  # WEB_CONCURRENCY 2 on a basic dyno
    assert idle - web_connections <= 2 * WORKER_DYNO_IDLE
    assert watch.most <= 2 * PER_WEB_PROCESS + 2 * (WORKER_DYNO_IDLE + PER_RUNNING_JOB), watch.clients()
    assert watch.most + 1 <= 20  # and a `heroku redis:cli` session: inside mini's 20
    assert watch.rejected() == 0
    assert delivered(app) == Counter(f"reader{n}@example.com" for n in range(8))
    report_figures("mini-connections", {"web": web_connections, "web_and_two_idle_worker_dynos": idle, "most": watch.most}, tmp_path)


def test_a_worker_configured_past_the_plan_says_so_once_and_works_with_what_fits(deployed, mini_redis):
    app = deployed(RETRY_INTERVALS="2")
    app.start("web")
    # Each gunicorn process connects as it starts (gunicorn.conf.py), so the worker counts both.
    with mini_redis.client() as observer:
        wait_for(lambda: observer.info("clients")["connected_clients"] - 1 == 2, timeout=30, what="both web processes to connect")
    worker = app.start("worker", WORKER_CONCURRENCY="32")
    wait_for(lambda: "does not fit this Redis" in worker.output(), timeout=30, what="the worker to say it does not fit")
    with mini_redis.client() as connection:
        # One job fails once (SendGrid answers 500) and is retried on time by the retries' scheduler.
        app.sendgrid.fail_with(500)
        status, retried = app.submit("retried@example.com")
        wait_for(lambda: Job.fetch(retried, connection).get_status() == "scheduled", timeout=30, what="a failed first attempt")
        app.sendgrid.status, app.sendgrid.errors = 202, []
        accepted = [retried] + [app.submit(f"reader{n}@example.com", client_ip=f"203.0.113.{n}")[1] for n in range(20)]
        wait_for(lambda: {Job.fetch(job_id, connection).get_status() for job_id in accepted} == {"finished"}, timeout=60, what="jobs")
    output = worker.output()
    [line] = [line for line in output.splitlines() if "does not fit" in line]
    assert "WORKER_CONCURRENCY=32" in line and "Lower WORKER_CONCURRENCY" in line, line
    assert status == 202 and len(app.sendgrid.requests) == 22  # the failed attempt, then one of each
    assert delivered(app) == Counter(["retried@example.com"] + [f"reader{n}@example.com" for n in range(20)])
    # Connections opened after the count (a web process's first request) may leave a pool worker refused:
    # it waits, one line per attempt; the dyno never exits.
    assert worker.popen.poll() is None
    # The one traceback: RQ's report of the attempt SendGrid failed.
    assert traceback_reports(output) == output.count("exception raised while executing") == 1, output


def test_a_work_horse_refused_a_connection_waits_for_one_and_uses_up_no_retry(deployed, mini_redis):
    app = deployed()
    worker = app.start("worker")
    with mini_redis.client() as connection:
        wait_for(lambda: "Listening on" in worker.output(), timeout=30, what="the worker")
        connection.ping()  # the test's own, connected first
        # Every other connection taken (another app's dynos, say), until Redis refuses one.
        hogs = []
        while True:
            hog = mini_redis.client()
            try:
                hog.ping()
            except redis.exceptions.ConnectionError:  # "max number of clients reached"
                hog.close()
                break
            hogs.append(hog)
        settings = load_settings({**app.config, "REDIS_URL": mini_redis.url})
        job = enqueue_fibonacci_email(get_queue(connection, settings), settings, "ada@example.com", 5)
        # The work-horse is refused its connection: it waits (or, without waiting, its attempt fails).
        refused = ("work-horse waiting for redis", "Work-horse terminated unexpectedly")
        wait_for(lambda: any(line in worker.output() for line in refused), timeout=30, what="the work-horse to be refused")
        hogs.pop().close()
        wait_for(lambda: Job.fetch(job.id, connection).get_status() == "finished", timeout=60, what="the job")
        finished = Job.fetch(job.id, connection)
        for hog in hogs:
            hog.close()
    assert finished.retries_left == len(settings.retry_intervals) and finished.meta.get("attempts", 0) == 0
    assert delivered(app) == Counter({"ada@example.com": 1})
    assert traceback_reports(worker.output()) == 0, worker.output()


@pytest.mark.parametrize("concurrency", ["1", "4"], ids=["worker", "pool"])
def test_redis_filling_up_while_jobs_run_then_freed_delivers_every_accepted_job_exactly_once(deployed, mini_redis, concurrency):
    # Jobs whose bookkeeping Redis refused stay "started" until RQ finds them abandoned, their heartbeat
    # expired: JOB_TIMEOUT + 60 s in a pool, WORKER_JOB_MONITORING_INTERVAL + 60 s otherwise.
    app = deployed(JOB_TIMEOUT="15", WORKER_JOB_MONITORING_INTERVAL="2", WORKER_MAINTENANCE_INTERVAL="5")
    app.sendgrid.delay = 0.05
    app.start("web")
    worker = app.start("worker", WORKER_CONCURRENCY=concurrency)
    answers: list[tuple[int, str | None]] = []
    stop, full = threading.Event(), threading.Event()

    def accepted() -> list[str]:
        return [job_id for status, job_id in answers if status == 202]

    def queued() -> int:
        return len(accepted()) - len(app.sendgrid.accepted)

    def submit_until_stopped(client: int) -> None:
        while not stop.is_set():
            # At most QUEUED_AT_MOST jobs ahead of the worker while Redis has room: the submitters outrun a
            # worker on a busy machine, and the test would then wait for a backlog, not for Redis.
            if queued() >= QUEUED_AT_MOST and not full.is_set():
                stop.wait(0.05)
                continue
            n = len(answers)
            answers.append(app.submit(f"reader{client}-{n}@example.com", client_ip=f"198.51.100.{n % 250}"))

    submitters = [threading.Thread(target=submit_until_stopped, args=(client,)) for client in range(2)]
    for submitter in submitters:
        submitter.start()
    try:
        wait_for(lambda: sum(delivered(app).values()) >= 10, timeout=60, what="emails before Redis fills up")
        mini_redis.fill()
        full.set()
        full_since = len(answers)
        wait_for(lambda: len(answers) - full_since >= 30, timeout=60, what="submissions while Redis is full")
        refused_while_full = [status for status, _ in answers[full_since:]]
        mini_redis.free()
        full.clear()
        freed = len(accepted())
        wait_for(lambda: len(accepted()) - freed >= 10, timeout=60, what="submissions accepted again")
    finally:
        stop.set()
        for submitter in submitters:
            submitter.join(15)
    with mini_redis.client() as connection:
        wait_for(
            lambda: {Job.fetch(job_id, connection).get_status() for job_id in accepted()} == {"finished"},
            timeout=240,
            what="every accepted job to finish",
        )
        strays = [key for key in connection.scan_iter("rq:job:*") if connection.hget(key, "status") != b"finished"]
    logs = app.logs()
    assert {status for status, _ in answers} <= {202, 503}, logs
    assert 503 in refused_while_full, logs
    # Every accepted submission sent exactly once; nothing left waiting, running or scheduled.
    recipients = [app.sendgrid.accepted[n]["personalizations"][0]["to"][0]["email"] for n in range(len(app.sendgrid.accepted))]
    assert len(recipients) == len(set(recipients)) == len(accepted()), Counter(recipients).most_common(3)
    assert strays == [], strays
    # The worker waited it out: it never exited, and said so in lines, not tracebacks.
    assert worker.popen.poll() is None, logs
    # At most one traceback per worker process: RQ's, for the job it was running when Redis filled up.
    assert traceback_reports(worker.output()) <= int(concurrency), worker.output()
