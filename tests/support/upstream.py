"""Checks that an upstream bug FibTastic works around is still there. They report; they never fail.

A workaround stays only while the library's bug does. Its check shows the bug, names the issue it
waits for, and says what can go once it is fixed:

    from tests.support.upstream import UpstreamBugStillThere

    @pytest.mark.upstream_bug("https://github.com/rq/rq/issues/2005", workaround="FibTasticQueue in jobs/core/connection.py")
    def test_rq_s_own_maintenance_lock_still_lasts_fifteen_minutes(redis_conn):
        ttl = ...  # do what shows the bug, with the library's own code
        if ttl > 60:
            raise UpstreamBugStillThere(f"RQ's own lock lasts {ttl} s")

The marker makes the check pytest's ``xfail(raises=UpstreamBugStillThere, strict=False)``:

- the bug is there (the check raises :class:`UpstreamBugStillThere`): XFAIL, "keep";
- the bug is gone (the check returns): XPASS, "can go", which never fails the run: a Dependabot
  bump that fixes the bug must not turn a user's CI red;
- anything else (an assertion of its own, a server that would not start): FAILED, as any test.

``make upstream-check`` runs only these checks (``pytest -m upstream_bug``) and ends with one line
per workaround, keep or can go; ``make test`` runs them too and prints the same lines. The test
that proves a workaround *works* is an ordinary test, never marked: it must fail on a real bug.
"""

from __future__ import annotations

import pytest

MARKER = "upstream_bug"


class UpstreamBugStillThere(Exception):
    """Raised by an ``upstream_bug`` check when the bug shows; its message is the evidence."""


# What each outcome of a check means for its workaround (the terminal reporter's categories).
VERDICTS = {"xfailed": "keep", "xpassed": "can go", "failed": "check failed", "error": "check failed", "skipped": "not checked"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}(issue, workaround): the upstream bug a workaround waits for (tests/support/upstream.py)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        marker = item.get_closest_marker(MARKER)
        if marker is None:
            continue
        issue, workaround = marker.args[0], marker.kwargs["workaround"]
        reason = f"waits for {issue}; then {workaround} can go"
        item.add_marker(pytest.mark.xfail(raises=UpstreamBugStillThere, strict=False, reason=reason))
        # Every report carries these, also from pytest-xdist's workers to the summary below.
        item.user_properties.append((MARKER, (issue, workaround)))


def pytest_terminal_summary(terminalreporter) -> None:
    verdicts = {}
    for category, reports in terminalreporter.stats.items():
        for report in reports:
            upstream = dict(getattr(report, "user_properties", ())).get(MARKER)
            if upstream and category in VERDICTS and verdicts.get(report.nodeid, ("",))[0] != "check failed":
                verdicts[report.nodeid] = (VERDICTS[category], *upstream)
    if not verdicts:
        return
    terminalreporter.write_sep("=", "workarounds for upstream bugs (make upstream-check)")
    for verdict, issue, workaround in sorted(verdicts.values(), key=lambda verdict: verdict[2]):
        terminalreporter.write_line(f"{verdict:>12}: {workaround} ({issue})")
