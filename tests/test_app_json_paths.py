"""The app boots as each way of creating it from app.json sets it up.

A Deploy-button app once failed to boot because no test had ever started the
app with the config vars app.json really produces. Here every creation path
(the Deploy button; review apps, when app.json has ``environments.review``),
as created and with each optional config var set in a variant of its own, is
derived from app.json at test time (tests/support/app_json.py) and started
the way Heroku starts it: the Procfile's web and worker lines, with only
those config vars plus what the platform adds (tests/support/heroku_platform.py:
DYNO, PORT, WEB_CONCURRENCY, the Python buildpack's FORWARDED_ALLOW_IPS='*'
and GUNICORN_CMD_ARGS, and REDIS_URL as Heroku Key-Value Store gives it:
``rediss://`` with a password and a self-signed certificate).

The one test-only override is SENDGRID_API_HOST, pointing the real sendgrid
client at the local SendGrid stand-in; and, in its variant, SENTRY_DSN points
at the local Sentry stand-in (that is the value the variant sets).

Requests carry what Heroku's router adds (X-Forwarded-Proto, -Port, -For, and
the app's host name), since gunicorn is reached only through the router.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support.app_json import (
    WHAT_A_USER_SETS,
    WHAT_A_USER_TYPES,
    StandIns,
    Variant,
    config_vars,
    creation_paths,
    formation,
    load_app_json,
    variants,
)
from tests.support.heroku_platform import dyno_environment, runtime_environment
from tests.support.processes import Process, free_port, wait_for
from tests.support.procfile import start_process_type
from tests.support.redis_server import RedisServer
from tests.support.sendgrid_stub import SendGridStub
from tests.support.sentry_stub import SentryStub

APP_JSON = load_app_json()
# The host name the router forwards (Heroku's own domain for a new app).
HOST = "fibtastic-example.herokuapp.com"
# A client address as the router appends it to X-Forwarded-For (TEST-NET-3:
# only ever a header value here).
CLIENT_IP = "203.0.113.7"
RECIPIENT = "ada@example.com"


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class HerokuApp:
    """The app booted from one variant's config vars, with its stand-ins."""

    variant: Variant
    config: dict[str, str]
    web_port: int
    processes: dict[str, Process]
    sendgrid: SendGridStub
    sentry: SentryStub

    def request(self, method: str, path: str, *, scheme: str = "https", headers: dict | None = None, body: dict | None = None) -> Response:
        """A request as Heroku's router forwards it: plain HTTP to the dyno,
        the client's scheme in X-Forwarded-Proto."""
        sent = {"Host": HOST, "X-Forwarded-Proto": scheme, "X-Forwarded-Port": "443" if scheme == "https" else "80"}
        sent["X-Forwarded-For"] = CLIENT_IP
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        sent.update(headers or {})
        connection = http.client.HTTPConnection("127.0.0.1", self.web_port, timeout=10)
        try:
            connection.request(method, path, body=data, headers=sent)
            response = connection.getresponse()
            return Response(response.status, response.headers, response.read())
        finally:
            connection.close()

    def logs(self) -> str:
        """Every process's log, for assertion messages."""
        return "\n".join(f"--- {name} ({process.log_path}) ---\n{process.output()[-6000:]}" for name, process in self.processes.items())

    def transactions_reported_to_sentry(self) -> int:
        """Transactions the Sentry SDK told the stand-in about: sent, or
        dropped by SENTRY_TRACES_SAMPLE_RATE and counted in a client report."""
        dropped = sum(
            entry["quantity"]
            for report in self.sentry.received("client_report")
            for entry in report.get("discarded_events", [])
            if entry["category"] == "transaction"
        )
        return dropped + len(self.sentry.received("transaction"))


def booted(processes: dict[str, Process], healthz) -> bool | list[str]:
    """True once /healthz answers; the names of exited processes (truthy,
    ending the wait) if any died on the way, as a dyno that crashes at boot."""
    exited = [name for name, process in processes.items() if process.popen.poll() is not None]
    return exited or healthz().status == 200


@pytest.fixture
def sentry() -> Iterator[SentryStub]:
    stub = SentryStub().start()
    yield stub
    stub.stop()


@pytest.fixture
def heroku_app(variant: Variant, tls_redis_server: RedisServer, sentry: SentryStub, tmp_path: Path) -> Iterator[HerokuApp]:
    """Every process type of app.json's formation, started from the Procfile
    with the variant's config vars and what the platform adds, and nothing
    of this machine's environment."""
    config = config_vars(APP_JSON, variant, StandIns(sentry_dsn=sentry.dsn))
    sendgrid = SendGridStub(api_key=config.get("SENDGRID_API_KEY", "")).start()
    home = tmp_path / "home"
    home.mkdir()
    ports = {process_type: free_port() for process_type in formation(APP_JSON)}
    processes: dict[str, Process] = {}
    try:
        for process_type, dyno in formation(APP_JSON).items():
            env = {
                **runtime_environment(home),
                **config,
                **dyno_environment(process_type, dyno["size"], ports[process_type], tls_redis_server.url),
                # The one test-only setting: SendGrid cannot be reached from here.
                "SENDGRID_API_HOST": sendgrid.host,
            }
            processes[process_type] = start_process_type(process_type, env, tmp_path / f"{process_type}.log")
        app = HerokuApp(variant, config, ports["web"], processes, sendgrid, sentry)
        exited = wait_for(lambda: booted(processes, lambda: app.request("GET", "/healthz")), timeout=30, what="the web dyno's /healthz")
        assert exited is True, f"{exited} exited at boot with {variant}:\n{app.logs()}"
        yield app
    finally:
        for process in processes.values():
            process.stop()
        sendgrid.stop()


def dashboard_is_on(config: dict[str, str]) -> bool:
    return bool(config.get("RQ_DASHBOARD_USERNAME") and config.get("RQ_DASHBOARD_PASSWORD"))


def basic_auth(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.mark.slow
@pytest.mark.parametrize("variant", variants(APP_JSON), ids=str)
def test_the_app_boots_serves_https_and_sends_through_sendgrid(heroku_app: HerokuApp):
    app, config = heroku_app, heroku_app.config
    logs = app.logs

    home = app.request("GET", "/")
    assert home.status == 200, logs()
    max_age = home.headers["Strict-Transport-Security"].removeprefix("max-age=")
    assert int(max_age) >= 365 * 24 * 3600, home.headers["Strict-Transport-Security"]

    # Plain HTTP, as the router forwards it: to https, on the app's own host.
    plain_get = app.request("GET", "/", scheme="http")
    assert (plain_get.status, plain_get.headers["Location"]) == (301, f"https://{HOST}/"), logs()
    plain_post = app.request("POST", "/api/sequences", scheme="http", body={"email": RECIPIENT, "length": 7})
    assert (plain_post.status, plain_post.headers["Location"]) == (308, f"https://{HOST}/api/sequences"), logs()
    assert "Strict-Transport-Security" not in plain_get.headers  # HSTS only means something over https

    submitted = app.request("POST", "/api/sequences", body={"email": RECIPIENT, "length": 7})
    assert submitted.status == 202, f"{submitted.status} {submitted.body!r}\n{logs()}"
    status_url = submitted.json()["status_url"]
    assert submitted.headers["Location"] == status_url
    assert status_url.startswith(f"https://{HOST}/api/jobs/"), status_url

    wait_for(lambda: app.sendgrid.accepted, timeout=30, what=f"the email at the SendGrid stand-in\n{logs()}")
    [sent] = app.sendgrid.requests  # accepted at once: no retry
    what_was_sent = json.dumps(sent.body, indent=1)
    # The real sendgrid client, with the key the user typed in.
    assert sent.headers["User-Agent"].startswith("sendgrid/"), sent.headers
    assert sent.headers["Authorization"] == f"Bearer {config['SENDGRID_API_KEY']}"
    [personalization] = sent.body["personalizations"]
    assert personalization["to"] == [{"email": RECIPIENT}], what_was_sent
    assert not personalization.get("cc") and not personalization.get("bcc"), what_was_sent
    name, address = parseaddr(config["MAIL_FROM"])
    assert sent.body["from"] == ({"name": name, "email": address} if name else {"email": address}), what_was_sent
    assert sent.body["subject"] == "Your 7 Fibonacci numbers", what_was_sent
    assert [content["type"] for content in sent.body["content"]] == ["text/plain", "text/html"], what_was_sent
    assert all(content["value"].strip() for content in sent.body["content"]), what_was_sent

    status_path = urlsplit(status_url).path
    wait_for(lambda: app.request("GET", status_path).json()["status"] == "finished", timeout=15, what="the job's status")

    if "MAX_SEQUENCE_LENGTH" in config:
        too_long = app.request("POST", "/api/sequences", body={"email": RECIPIENT, "length": int(config["MAX_SEQUENCE_LENGTH"]) + 1})
        assert too_long.status == 422, f"{too_long.body!r}\n{logs()}"

    if dashboard_is_on(config):
        assert app.request("GET", "/rq/").status == 401, logs()
        good = basic_auth(config["RQ_DASHBOARD_USERNAME"], config["RQ_DASHBOARD_PASSWORD"])
        dashboard = app.request("GET", "/rq/", headers=good)
        assert dashboard.status == 200, logs()
        assert app.request("GET", "/rq/", scheme="http", headers=good).status == 301, logs()
    else:
        # The Deploy button generates the password alone: the app boots, and /rq is not there.
        assert app.request("GET", "/rq/").status == 404, logs()

    for name, process in app.processes.items():
        assert process.popen.poll() is None, f"{name} exited\n{logs()}"

    if "SENTRY_DSN" in config:
        # Each process initialised Sentry: the SDK reports the transactions
        # it starts (per request, per job), kept or dropped by
        # SENTRY_TRACES_SAMPLE_RATE. The worker's RQ integration flushes at
        # the end of each job; gunicorn's workers flush when they exit.
        wait_for(lambda: app.transactions_reported_to_sentry() >= 1, timeout=15, what=f"the worker's report to Sentry\n{logs()}")
        before = app.transactions_reported_to_sentry()
        app.processes["web"].stop()
        wait_for(lambda: app.transactions_reported_to_sentry() > before, timeout=15, what=f"the web dyno's report to Sentry\n{logs()}")
        assert app.sentry.events == [], "a successful job and plain requests should send Sentry no error"
        assert app.sentry.rejected == []

    error_lines = [line for line in logs().splitlines() if line.startswith(("at=error", "at=critical"))]
    assert error_lines == [], logs()


@pytest.mark.slow
@pytest.mark.parametrize("variant", [Variant(path) for path in creation_paths(APP_JSON)], ids=str)
def test_a_client_cannot_move_the_app_with_a_script_name_header(heroku_app: HerokuApp):
    """With FORWARDED_ALLOW_IPS='*' in the dyno's environment, gunicorn must
    still ignore forwarding headers from its peer (the router passes a
    client's own headers on): gunicorn.conf.py trusts no peer, and ProxyFix
    in web/heroku_https.py trusts the router's one hop."""
    app = heroku_app
    submitted = app.request("POST", "/api/sequences", headers={"SCRIPT_NAME": "/api"}, body={"email": RECIPIENT, "length": 3})
    assert submitted.status == 202, f"{submitted.status} {submitted.body[:300]!r}\n{app.logs()}"
    status_url = submitted.json()["status_url"]
    assert urlsplit(status_url).path.startswith("/api/jobs/"), status_url
    status = app.request("GET", urlsplit(status_url).path, headers={"SCRIPT_NAME": "/api"})
    assert status.status == 200, f"{status.body[:300]!r}\n{app.logs()}"
    home = app.request("GET", "/", headers={"SCRIPT_NAME": "/api"})
    assert home.status == 200, app.logs()
    assert b'action="/sequences"' in home.body, home.body


def test_every_config_var_in_app_json_gets_what_heroku_would_give_it():
    """The derivation itself, for every variant app.json has today: generated
    secrets are Heroku's 64 hex characters and fresh each time, values are
    app.json's, required vars get what a user types, optional ones without
    a value are absent unless their variant sets them."""
    stand_ins = StandIns(sentry_dsn="http://key@127.0.0.1:9/1")
    for variant in variants(APP_JSON):
        spec = creation_paths(APP_JSON)[variant.path]
        config = config_vars(APP_JSON, variant, stand_ins)
        again = config_vars(APP_JSON, variant, stand_ins)
        for name, var in spec.items():
            if name == variant.sets:
                assert config[name] == WHAT_A_USER_SETS[name](stand_ins)
            elif var.get("generator") == "secret":
                assert re.fullmatch(r"[0-9a-f]{64}", config[name]), name
                assert config[name] != again[name], name
            elif "value" in var:
                assert config[name] == var["value"], name
            elif var["required"]:
                assert config[name] and name in WHAT_A_USER_TYPES, name
            else:
                assert name not in config, name
        assert set(config) <= set(spec), variant


def test_a_required_var_nobody_knows_how_to_fill_fails_clearly():
    app = {"env": {"SECRET_KEY": {"generator": "secret"}, "STRIPE_API_KEY": {"description": "Payments", "required": True}}}
    with pytest.raises(pytest.fail.Exception, match=r"STRIPE_API_KEY.*WHAT_A_USER_TYPES"):
        config_vars(app, Variant("deploy-button"), StandIns(sentry_dsn=""))
    # app.json's shorthand "NAME": "value", and required by default.
    assert config_vars({"env": {"LOG_LEVEL": "DEBUG"}}, Variant("deploy-button"), StandIns(sentry_dsn="")) == {"LOG_LEVEL": "DEBUG"}
    with pytest.raises(pytest.fail.Exception, match="NEW_FLAG"):
        config_vars({"env": {"NEW_FLAG": {"required": False}}}, Variant("deploy-button", "NEW_FLAG"), StandIns(sentry_dsn=""))


def test_review_apps_are_a_path_of_their_own_when_app_json_says_how_they_differ():
    app = {
        "env": {"MAIL_FROM": {"required": True}, "LOG_LEVEL": {"value": "INFO", "required": False}},
        "environments": {"review": {"env": {"LOG_LEVEL": "DEBUG", "SENTRY_ENVIRONMENT": {"value": "review", "required": False}}}},
    }
    assert set(creation_paths({"env": app["env"]})) == {"deploy-button"}
    paths = creation_paths(app)
    assert paths["review-app"]["LOG_LEVEL"] == {"value": "DEBUG", "required": False}
    assert paths["review-app"]["SENTRY_ENVIRONMENT"]["value"] == "review"
    assert paths["deploy-button"]["LOG_LEVEL"]["value"] == "INFO"
    assert [str(variant) for variant in variants(app)] == [
        "deploy-button",
        "deploy-button+LOG_LEVEL",
        "review-app",
        "review-app+LOG_LEVEL",
        "review-app+SENTRY_ENVIRONMENT",
    ]
