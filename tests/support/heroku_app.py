"""An app created with the Deploy button, on a Redis of the test's: its config vars derived from app.json
(tests/support/app_json.py), each dyno started from the Procfile with what Heroku adds (DYNO, PORT,
WEB_CONCURRENCY by dyno size, REDIS_URL), and requests sent as Heroku's router forwards them."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.app_json import StandIns, Variant, config_vars, formation, load_app_json
from tests.support.heroku_platform import dyno_environment, runtime_environment
from tests.support.processes import Process, free_port, wait_for
from tests.support.procfile import start_process_type
from tests.support.sendgrid_stub import SendGridStub


@dataclass
class DeployedApp:
    redis_url: str
    tmp_path: Path
    # Config vars set later (heroku config:set), over the Deploy button's.
    config_set: dict[str, str] = field(default_factory=dict)
    sendgrid_delay: float = 0.0
    dynos: dict[str, Process] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.app_json = load_app_json()
        self.config = {**config_vars(self.app_json, Variant("deploy-button"), StandIns(sentry_dsn="")), **self.config_set}
        self.sendgrid = SendGridStub(api_key=self.config["SENDGRID_API_KEY"], delay=self.sendgrid_delay).start()
        self.home = self.tmp_path / "home"
        self.home.mkdir(exist_ok=True)
        self.web_port = free_port()

    def start(self, process_type: str, number: int = 1, **env: str) -> Process:
        """Dyno ``<process_type>.<number>``, as app.json's formation sizes it; ``env`` over its config vars."""
        size = formation(self.app_json)[process_type]["size"]
        port = self.web_port if process_type == "web" else free_port()
        environment = {
            **runtime_environment(self.home),
            **self.config,
            **dyno_environment(process_type, size, port, self.redis_url),
            "DYNO": f"{process_type}.{number}",
            # The one test-only setting: SendGrid cannot be reached from here.
            "SENDGRID_API_HOST": self.sendgrid.host,
            **env,
        }
        dyno = start_process_type(process_type, environment, self.tmp_path / f"{process_type}.{number}.log")
        self.dynos[f"{process_type}.{number}"] = dyno
        if process_type == "web":
            wait_for(lambda: self.get("/healthz")[0] == 200, timeout=30, what="the web dyno")
        return dyno

    def request(self, method: str, path: str, body: dict | None = None, client_ip: str = "203.0.113.7", headers=None):
        """(status, headers, body) of a request as the router forwards it: HTTPS, the client's address appended."""
        sent = {"X-Forwarded-Proto": "https", "X-Forwarded-Port": "443", "X-Forwarded-For": client_ip, **(headers or {})}
        data = None
        if body is not None:
            data, sent["Content-Type"] = json.dumps(body).encode(), "application/json"
        request = urllib.request.Request(f"http://127.0.0.1:{self.web_port}{path}", data=data, headers=sent, method=method)
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, answer.headers, answer.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()

    def get(self, path: str, **kwargs):
        return self.request("GET", path, **kwargs)

    def submit(self, recipient: str, length: int = 5, client_ip: str = "203.0.113.7") -> tuple[int, str | None]:
        """POST /api/sequences: (status, the job's id if accepted)."""
        status, _, body = self.request("POST", "/api/sequences", {"email": recipient, "length": length}, client_ip=client_ip)
        return status, json.loads(body)["job_id"] if status == 202 else None

    def logs(self) -> str:
        return "\n".join(f"--- {name} ---\n{dyno.output()[-8000:]}" for name, dyno in self.dynos.items())

    def stop(self) -> None:
        for dyno in self.dynos.values():
            dyno.stop()
        self.sendgrid.stop()
