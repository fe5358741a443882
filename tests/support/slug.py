"""What Heroku builds from: the files git tracks, minus those .slugignore names.

Heroku matches .slugignore's lines like .gitignore's, without ``!``
(https://devcenter.heroku.com/articles/slug-compiler); git's own matcher
reads them here. Needs a git checkout (Heroku CI's /app has no .git)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.support.processes import PROJECT_ROOT


def git_files(*args: str) -> list[str]:
    output = subprocess.run(["git", "ls-files", "-z", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True).stdout
    return [name for name in output.split("\0") if name and (PROJECT_ROOT / name).exists()]  # not deleted, uncommitted


def slugignored() -> set[str]:
    return set(git_files("--cached", "--ignored", "--exclude-from=.slugignore"))


def copy_slug_files(destination: Path) -> None:
    """The files of the slug, as they are in this checkout (uncommitted edits included), without .git."""
    ignored = slugignored()
    for name in git_files():
        if name not in ignored:
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(PROJECT_ROOT / name, target, follow_symlinks=False)
