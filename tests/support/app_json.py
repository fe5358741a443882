"""The config vars a new Heroku app gets from app.json, derived from the file
at test time, so the tests that boot the app follow every edit to it.

Heroku reads app.json when it creates an app: from the Deploy button, and for
a review app (the top-level ``env``, with ``environments.review.env`` over it
when there is one). For each config var (https://devcenter.heroku.com/articles/app-json-schema#env):

- ``"generator": "secret"``: Heroku generates a value, 64 hex characters;
- ``"value"``: that value (the form shows it, and most users keep it);
- required with no value: whatever the user types into the form, from
  :data:`WHAT_A_USER_TYPES` below, since nothing in app.json says it;
- optional with no value: absent.

Each optional var also gets a variant of its own with a value a user would
set later (:data:`WHAT_A_USER_SETS`): a realistic one where app.json has
none, and another valid one where it has. A config var that app.json gains
without an entry in the table it needs fails the tests, saying which table.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import PROJECT_ROOT

APP_JSON = PROJECT_ROOT / "app.json"


def sendgrid_api_key() -> str:
    """The shape of SendGrid's keys: "SG.", a 22-character id, ".", then a
    43-character secret, both base64url."""
    return f"SG.{secrets.token_urlsafe(16)}.{secrets.token_urlsafe(32)}"


# What a user types into the Deploy button's form for each required config
# var that app.json gives no value.
WHAT_A_USER_TYPES: dict[str, Callable[[], str]] = {
    "SENDGRID_API_KEY": sendgrid_api_key,
    "MAIL_FROM": lambda: "FibTastic <numbers@example.com>",
}


@dataclass(frozen=True)
class StandIns:
    """Addresses of the local stand-ins a config var may point at."""

    sentry_dsn: str


# What a user sets each optional config var to, later (heroku config:set),
# one variant each. Where app.json has a value, this is another valid one.
WHAT_A_USER_SETS: dict[str, Callable[[StandIns], str]] = {
    "SENTRY_DSN": lambda stand_ins: stand_ins.sentry_dsn,
    # With the password Heroku generated, this turns the dashboard on.
    "RQ_DASHBOARD_USERNAME": lambda _: "operator",
    # Replacing the generated password with one of the user's own.
    "RQ_DASHBOARD_PASSWORD": lambda _: "correct horse battery staple, chosen by the user",
    "MAX_SEQUENCE_LENGTH": lambda _: "50",
    "SENTRY_TRACES_SAMPLE_RATE": lambda _: "0.25",
    "RETRY_INTERVALS": lambda _: "5,60",
    "RATE_LIMIT_PER_IP": lambda _: "100 per hour",
    "RATE_LIMIT_PER_RECIPIENT": lambda _: "20/day",
}


def load_app_json(path: Path = APP_JSON) -> dict[str, Any]:
    return json.loads(path.read_text())


def _normalised(spec: Any) -> dict[str, Any]:
    """app.json allows ``"NAME": "value"`` for ``{"value": "value"}``;
    ``required`` is true unless it says otherwise."""
    spec = dict(spec) if isinstance(spec, dict) else {"value": spec}
    spec.setdefault("required", True)
    return spec


def creation_paths(app: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """Each way Heroku creates an app from the top-level ``env``, with the
    specification of every config var it sets up. Without
    ``environments.review`` a review app gets exactly what the Deploy button
    gets, so it is a path of its own only when app.json has one."""
    env = {name: _normalised(spec) for name, spec in app.get("env", {}).items()}
    paths = {"deploy-button": env}
    review = app.get("environments", {}).get("review")
    if review is not None:
        merged = {name: dict(spec) for name, spec in env.items()}
        for name, spec in review.get("env", {}).items():
            merged[name] = {**merged.get(name, {"required": True}), **(spec if isinstance(spec, dict) else {"value": spec})}
        paths["review-app"] = merged
    return paths


@dataclass(frozen=True)
class Variant:
    """One app to boot: a creation path, as created or with one optional var set."""

    path: str
    sets: str | None = None

    def __str__(self) -> str:
        return self.path if self.sets is None else f"{self.path}+{self.sets}"


def variants(app: dict[str, Any]) -> list[Variant]:
    found = []
    for path, env in creation_paths(app).items():
        found.append(Variant(path))
        found.extend(Variant(path, name) for name, spec in env.items() if not spec["required"])
    return found


def formation(app: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return app.get("formation", {})


def config_vars(app: dict[str, Any], variant: Variant, stand_ins: StandIns) -> dict[str, str]:
    """The config vars of the app ``variant`` describes, with fresh secrets."""
    env = creation_paths(app)[variant.path]
    config: dict[str, str] = {}
    unknown = []
    for name, spec in env.items():
        if spec.get("generator") == "secret":
            # Heroku's generator: 32 random bytes as 64 hex characters.
            config[name] = secrets.token_hex(32)
        elif "value" in spec:
            config[name] = str(spec["value"])
        elif spec["required"]:
            if name in WHAT_A_USER_TYPES:
                config[name] = WHAT_A_USER_TYPES[name]()
            else:
                unknown.append(name)
    if unknown:
        pytest.fail(
            f"app.json requires {', '.join(unknown)} with no value, so a user types one into the Deploy button's form: "
            "add what they would type to WHAT_A_USER_TYPES in tests/support/app_json.py",
            pytrace=False,
        )
    if variant.sets is not None:
        if variant.sets not in WHAT_A_USER_SETS:
            pytest.fail(
                f"app.json has the optional config var {variant.sets}: add a value a user would set it to "
                "to WHAT_A_USER_SETS in tests/support/app_json.py",
                pytrace=False,
            )
        value = WHAT_A_USER_SETS[variant.sets](stand_ins)
        assert value != config.get(variant.sets), f"WHAT_A_USER_SETS[{variant.sets!r}] must differ from app.json's value"
        config[variant.sets] = value
    return config
