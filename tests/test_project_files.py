"""The deploy files are present, valid and agree with each other."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import PROJECT_ROOT
from tests.support.procfile import read_procfile
from tests.support.slug import copy_slug_files, slugignored

ROOT = PROJECT_ROOT


def test_runtime_txt_and_python_version_name_the_same_python():
    python_version = (ROOT / ".python-version").read_text().strip()
    runtime = (ROOT / "runtime.txt").read_text().strip()
    assert re.fullmatch(r"3\.\d+", python_version), "use the major form (3.13): Heroku then installs security patches"
    assert runtime == f"python-{python_version}"
    # A Python that Heroku supports today.
    assert python_version in {"3.11", "3.12", "3.13", "3.14"}


def test_procfile_runs_gunicorn_and_the_worker():
    entries = read_procfile()
    assert set(entries) >= {"web", "worker"}
    assert entries["web"].startswith("gunicorn --config gunicorn.conf.py ")
    assert entries["worker"] == "python -m worker"


def test_gunicorn_config_suits_heroku(monkeypatch):
    monkeypatch.setenv("PORT", "7001")
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    config: dict = {}
    exec(compile((ROOT / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), config)  # noqa: S102 - our own file
    assert config["bind"] == ["[::]:7001"]
    assert config["workers"] == 3
    assert config["graceful_timeout"] < 30  # Heroku's SIGTERM-to-SIGKILL window
    assert config["timeout"] < 30  # Heroku's router timeout
    # sync workers close every connection, so a keepalive setting would promise nothing.
    assert config["worker_class"] == "web.gunicorn_worker.DrainingSyncWorker" and "keepalive" not in config
    assert config["forwarded_allow_ips"] == ""  # not the buildpack's '*': see the comment there
    assert config["accesslog"] == "-"


def test_app_json_describes_a_deployable_app():
    app = json.loads((ROOT / "app.json").read_text())
    for key in ("name", "description", "repository", "keywords", "env", "formation", "addons", "buildpacks", "environments"):
        assert app.get(key), key
    for name, variable in app["env"].items():
        assert variable.get("description"), name
        assert isinstance(variable.get("required"), bool), name
    assert app["env"]["SECRET_KEY"]["generator"] == "secret"
    assert app["env"]["SENDGRID_API_KEY"]["required"] and app["env"]["MAIL_FROM"]["required"]
    assert set(app["formation"]) == set(read_procfile())
    for process in app["formation"].values():
        assert process["quantity"] == 1 and process["size"]
    plans = [addon["plan"] if isinstance(addon, dict) else addon for addon in app["addons"]]
    assert "heroku-redis:mini" in plans
    assert not any("hobby-dev" in plan for plan in plans), "hobby-dev plans were retired"
    assert app["buildpacks"] == [{"url": "heroku/python"}]
    assert app["environments"]["test"]["scripts"]["test"]


def test_the_deploy_button_deploys_the_repository_app_json_names():
    # Without ?template= Heroku guesses the repository from the Referer
    # header, which GitHub does not send; a fork must change both together.
    repository = json.loads((ROOT / "app.json").read_text())["repository"]
    readme = (ROOT / "README.md").read_text()
    buttons = re.findall(r"\(https://heroku\.com/deploy(\S*?)\)", readme)
    assert buttons, "README has no Deploy to Heroku button"
    for query in buttons:
        assert query == f"?template={repository}", f"the button's link should be https://heroku.com/deploy?template={repository}"


def test_github_actions_are_on_their_node_24_majors():
    # GitHub's runners retired Node 20 actions in 2026. These majors (the
    # current ones when written: checkout v7.0.1, setup-python v7.0.0, both
    # July 2026) run on Node 24; Dependabot proposes newer ones weekly.
    workflow = (ROOT / ".github/workflows/ci.yml").read_text()
    uses = re.findall(r"uses:\s*actions/([\w-]+)@v(\d+)", workflow)
    assert {name for name, _ in uses} == {"checkout", "setup-python"}
    assert all(int(major) >= 7 for _, major in uses), uses


def test_every_setting_is_documented_in_env_example():
    source = (ROOT / "jobs" / "core" / "settings.py").read_text()
    read = set(re.findall(r'_[a-z]+\(env, "([A-Z_]+)"', source))
    documented = set(re.findall(r"^#?\s*([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    assert {"REDIS_URL", "SMTP_URL", "SENDGRID_API_KEY", "MAIL_FROM", "SECRET_KEY", "SENTRY_DSN", "MAX_SEQUENCE_LENGTH", "PORT"} <= read
    assert read <= documented, f"undocumented: {sorted(read - documented)}"


def test_settings_are_read_from_the_environment_in_one_module():
    offenders = []
    for path in [*ROOT.glob("jobs/**/*.py"), *ROOT.glob("web/**/*.py"), *ROOT.glob("worker/**/*.py")]:
        if path.name != "settings.py" and re.search(r"os\.environ|os\.getenv", path.read_text()):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def _imported_packages(package: str) -> set[str]:
    names = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize(("package", "forbidden"), [("web", "worker"), ("worker", "web"), ("jobs", "web"), ("jobs", "worker")])
def test_packages_keep_to_their_side(package, forbidden):
    assert forbidden not in _imported_packages(package)


def test_worker_does_not_load_flask():
    code = "import sys, worker.__main__, jobs.tasks, jobs.core.mail.smtp, jobs.core.mail.sendgrid; print('flask' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_production_requirements_are_pinned():
    requirements = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    requirements = [line for line in requirements if line]
    assert requirements
    for line in requirements:
        assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[A-Za-z0-9_.\-+]+", line), line
    names = {line.split("==")[0].lower() for line in requirements}
    assert {"flask", "gunicorn", "rq", "redis", "sendgrid", "sentry-sdk", "flask-wtf", "email-validator"} <= names
    dev = (ROOT / "requirements-dev.txt").read_text()
    assert "-r requirements.txt" in dev


def test_only_one_dependency_manifest_and_no_committed_virtualenv():
    # Heroku refuses a build with more than one of these.
    present = {name for name in ("requirements.txt", "Pipfile.lock", "poetry.lock", "uv.lock") if (ROOT / name).exists()}
    assert present == {"requirements.txt"}
    # ".venv", not ".venv/": a .venv that is a link to another checkout's is ignored too.
    assert ".venv" in (ROOT / ".gitignore").read_text().split()
    if (ROOT / ".git").exists():  # Heroku CI's test dyno has no .git
        tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
        assert not [path for path in tracked if "pyvenv.cfg" in path or "/site-packages/" in path or path == ".venv"]


@pytest.mark.parametrize(
    ("path", "schema"),
    [(".github/workflows/ci.yml", "vendor.github-workflows"), (".github/dependabot.yml", "vendor.dependabot")],
)
def test_github_files_match_their_schemas(path, schema):
    # check-jsonschema ships these schemas, so this works offline.
    executable = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run([str(executable), "--builtin-schema", schema, str(ROOT / path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ci_workflow_runs_lint_and_tests_against_a_redis_service():
    workflow = (ROOT / ".github/workflows/ci.yml").read_text()
    assert "cancel-in-progress: true" in workflow
    assert "permissions:\n  contents: read" in workflow
    assert "python-version-file: .python-version" in workflow and '"3.11"' in workflow
    assert "image: redis" in workflow and "TEST_REDIS_URL" in workflow
    assert "ruff check" in workflow and "make test" in workflow


# In the slug, run from its files alone: the web's pages and static files, /healthz (Redis is down here: 503),
# and what the worker dyno imports and renders.
BOOT_FROM_SLUG = """
import socket
import web, worker
from jobs.core.settings import Settings
from web import create_app
with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    closed = probe.getsockname()[1]
settings = Settings(redis_url=f"redis://127.0.0.1:{closed}/0", secret_key="x" * 40)
client = create_app({"TESTING": True, "FIBTASTIC_SETTINGS": settings}).test_client()
answers = [client.get(path).status_code for path in ("/", "/static/style.css", "/static/job_status.js", "/healthz")]
assert answers == [200, 200, 200, 503], answers
import worker.__main__, worker.pool, worker.preload, worker.cron
from jobs.email_content import fibonacci_email
fibonacci_email("a@example.com", "b@example.com", 3)
print(web.__file__, worker.__file__)
"""


def test_slugignore_leaves_out_only_what_no_dyno_and_no_heroku_ci_run_needs(tmp_path):
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the slug's files are not known")
    ignored = slugignored()
    assert any(name.startswith("bench/") for name in ignored)
    # Heroku CI removes them too before app.json's test script runs the suite (heroku/heroku-ci#39).
    assert not [name for name in ignored if name.startswith("tests/")]
    copy_slug_files(tmp_path)
    environment = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "REDIS_URL", "DYNO")}
    result = subprocess.run([sys.executable, "-c", BOOT_FROM_SLUG], cwd=tmp_path, env=environment, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(tmp_path / "web" / "__init__.py"), str(tmp_path / "worker" / "__init__.py")]
