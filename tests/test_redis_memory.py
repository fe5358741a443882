"""What a submission leaves in Redis, measured key by key through the real app and worker
(tests/support/redis_memory.py), against what app.json's plan holds: heroku-redis:mini, 25 MB,
noeviction, so a full Redis refuses every submission."""

from __future__ import annotations

from tests.support.redis_memory import heroku_plans, measure

# docs/redis-plans.md: mini holds this many accepted submissions a day, 1 in 100 failing for good, with Redis
# itself, a client on each of its 20 connections and 20 % headroom (tests/support/redis_memory.py).
SUBMISSIONS_PER_DAY = 20_000
FAILING = 0.01


def test_a_day_of_submissions_fits_in_the_plan_app_json_provisions(tmp_path):
    mini = next(plan for plan in heroku_plans() if plan.name == "mini")
    measurement = measure(tmp_path)
    holds = measurement.sent_per_day(mini, failing=FAILING)
    assert holds >= SUBMISSIONS_PER_DAY, (
        f"mini holds {holds:,} submissions a day, not {SUBMISSIONS_PER_DAY:,} ({measurement.server}).\n"
        f"sent:\n{measurement.sent.table()}\nfailed:\n{measurement.failed.table()}"
    )
