"""Section "capacity": what each Heroku Key-Value Store plan holds, accepted submissions and failed jobs a day
(README "Capacity").

One sent and one failed submission go through the real app and worker on a redis-server serving as mini does
(tests/support/redis_memory.py: every key each leaves, its bytes and how long it lives); each plan's memory,
less Redis itself, a client on each of its connections and the headroom, is divided by the bytes a submission
holds on average over a day. A few seconds; tests/test_redis_memory.py asserts mini's figure.
"""

from tests.support.redis_memory import HEADROOM, heroku_plans, measure


def bench_capacity(report, quick: bool) -> None:
    measurement = measure()
    report.add("## Capacity: submissions a day each Heroku Key-Value Store plan holds")
    report.add()
    connection_kib = measurement.bytes_per_connection / 1024
    report.add(f"{measurement.server}; Redis with the app's fixed keys {measurement.fixed_bytes / 1024:.0f} KiB, a client connection")
    report.add(f"{connection_kib:.1f} KiB, headroom {HEADROOM:.0%}. Every key a submission leaves (bytes × seconds kept / 86,400):")
    report.add()
    report.add("```")
    report.add(f"sent (an email):\n{measurement.sent.table()}\nfailed for good (after every retry):\n{measurement.failed.table()}")
    report.add("```")
    report.add()
    rows = []
    for plan in heroku_plans():
        sent, sent_failing = measurement.sent_per_day(plan), measurement.sent_per_day(plan, failing=0.01)
        rows.append(
            [
                plan.name,
                f"{plan.bytes // 2**20} MB",
                plan.connections,
                f"{sent:,}",
                f"{sent_failing:,}",
                f"{measurement.failed_per_day(plan):,}",
            ]
        )
    report.table(["plan", "memory", "connections", "sent a day", "sent a day, 1 in 100 failing", "failed a day, alone"], rows)
