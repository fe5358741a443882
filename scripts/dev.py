"""`make dev`: print the URLs to open, then run Procfile.dev with honcho.
The URLs follow what honcho hands the processes (the env file wins over the environment; web gets PORT)."""

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from honcho.environ import parse as parse_env_file

from devmail.server import DEFAULT_HTTP_PORT, DEFAULT_SMTP_PORT

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_WEB_PORT = 5000


def effective_environment(env_file: Path, environ: Mapping[str, str]) -> dict[str, str]:
    values = dict(environ)
    if env_file.is_file():
        values.update(parse_env_file(env_file.read_text()))
    return values


def browsable_host(address: str) -> str:
    # A server bound to every interface is still reached on loopback.
    return "127.0.0.1" if address in ("", "0.0.0.0", "::") else address  # noqa: S104  # nosec B104 - compared, not bound


def banner(env: Mapping[str, str]) -> str:
    web_port = env.get("PORT") or DEFAULT_WEB_PORT
    mail_host = browsable_host(env.get("DEVMAIL_HTTP_IP", ""))
    mail_port = env.get("DEVMAIL_HTTP_PORT") or DEFAULT_HTTP_PORT
    smtp_port = env.get("DEVMAIL_SMTP_PORT") or DEFAULT_SMTP_PORT
    return (
        f"FibTastic:   http://127.0.0.1:{web_port}\n"
        f"Caught mail: http://{mail_host}:{mail_port}   (SMTP sink on port {smtp_port})\n"
        "Ctrl-C stops everything."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.dev", description=__doc__.splitlines()[0])
    parser.add_argument("--env-file", type=Path, default=PROJECT_ROOT / ".env", help="settings file honcho reads (default: .env)")
    parser.add_argument("--procfile", type=Path, default=PROJECT_ROOT / "Procfile.dev")
    options = parser.parse_args(argv)
    print(banner(effective_environment(options.env_file, os.environ)), flush=True)
    honcho = [sys.executable, "-m", "honcho", "start", "--procfile", str(options.procfile), "--env", str(options.env_file)]
    os.chdir(PROJECT_ROOT)
    os.execv(sys.executable, honcho)  # noqa: S606  # nosec B606 - our own interpreter, no shell


if __name__ == "__main__":
    sys.exit(main())
