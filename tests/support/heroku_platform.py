"""What Heroku adds to a dyno's environment on top of the app's config vars,
and the environment and PATH of a Heroku CI test run.

Sources: the Python buildpack's .profile.d scripts (vendor/python.gunicorn.sh
exports FORWARDED_ALLOW_IPS='*' and GUNICORN_CMD_ARGS='--access-logfile -';
vendor/WEB_CONCURRENCY.sh sets WEB_CONCURRENCY and DYNO_RAM from the dyno's
memory and cores; bin/compile writes PATH, PYTHONPATH=$HOME,
PYTHONUNBUFFERED=true and LANG), Heroku's dyno metadata (DYNO, PORT;
https://devcenter.heroku.com/articles/dynos#local-environment-variables), and
the buildpack's Heroku CI spec (spec/hatchet/ci_spec.rb: what a test run's
command sees).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path

from tests.support.processes import PROJECT_ROOT

# (DYNO_RAM in MB, WEB_CONCURRENCY) by dyno size, as vendor/WEB_CONCURRENCY.sh
# works them out (the lower of RAM / 256 MB and cores * 2 + 1; its comment
# lists the results).
DYNO_SIZES: dict[str, tuple[int, int]] = {
    "eco": (512, 2),
    "basic": (512, 2),
    "standard-1x": (512, 2),
    "standard-2x": (1024, 4),
    "performance-m": (2560, 5),
    "performance-l": (14336, 17),
}

# Heroku's PATH after the buildpack's .profile.d script put Python's bin
# directory in front (ci_spec.rb shows it).
SYSTEM_PATH = ["/usr/local/bin", "/usr/bin", "/bin"]


def python_bin() -> Path:
    """The bin directory of the Python running the tests, which stands in
    for /app/.heroku/python/bin: it has gunicorn and everything in
    requirements.txt."""
    return Path(sys.executable).parent


def runtime_environment(home: Path, app_dir: Path = PROJECT_ROOT) -> dict[str, str]:
    """What every dyno's environment starts with, before the config vars:
    nothing of this machine's own environment is passed on. HOME is a
    directory of the test's rather than the app's (Heroku's HOME is /app),
    so nothing a process writes there lands in the checkout."""
    return {
        "PATH": os.pathsep.join([str(python_bin()), *SYSTEM_PATH]),
        "HOME": str(home),
        "LANG": "en_US.UTF-8",
        "PYTHONPATH": str(app_dir),
        "PYTHONUNBUFFERED": "true",
    }


def dyno_environment(process_type: str, size: str, port: int, redis_url: str) -> dict[str, str]:
    """What the platform, the Python buildpack and the Redis add-on set on
    dyno ``<process_type>.1`` of ``size``."""
    if size.lower() not in DYNO_SIZES:
        raise AssertionError(f"app.json asks for dyno size {size!r}: add its RAM and WEB_CONCURRENCY to DYNO_SIZES in {__file__}")
    ram, concurrency = DYNO_SIZES[size.lower()]
    return {
        "DYNO": f"{process_type}.1",
        # Every dyno gets a PORT, though only web dynos receive traffic on it.
        "PORT": str(port),
        "DYNO_RAM": str(ram),
        "WEB_CONCURRENCY": str(concurrency),
        "WEB_CONCURRENCY_SET_BY": "heroku/python",
        "FORWARDED_ALLOW_IPS": "*",
        "GUNICORN_CMD_ARGS": "--access-logfile -",
        "REDIS_URL": redis_url,
    }


def path_without(directory: Path, excluded: Iterable[str], search_path: Iterable[str] = SYSTEM_PATH) -> str:
    """A PATH of one directory holding a symlink to every program on
    ``search_path`` except those whose names start with an ``excluded``
    prefix. Filtering, not dropping directories: /bin is /usr/bin on Debian,
    so leaving out a directory leaves nothing out."""
    directory.mkdir(parents=True, exist_ok=True)
    excluded = tuple(excluded)
    for folder in search_path:
        if not os.path.isdir(folder):
            continue
        for entry in sorted(os.listdir(folder)):
            target = Path(folder) / entry
            link = directory / entry
            if entry.startswith(excluded) or link.exists() or link.is_symlink():
                continue
            if target.is_file() and os.access(target, os.X_OK):
                link.symlink_to(target)
    for name in excluded:
        assert shutil.which(name, path=str(directory)) is None, name
    return str(directory)
