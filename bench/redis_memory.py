"""What each Heroku Key-Value Store plan holds: accepted submissions and failed jobs a day.

    python -m bench.redis_memory

Measures one sent and one failed submission through the real app and worker on a redis-server serving as
mini does (tests/support/redis_memory.py: every key each leaves, its bytes and how long it lives), then divides
each plan's memory, less Redis itself, a client on each of its connections and 20 % headroom, by the bytes
a submission holds on average over a day. A few seconds.
"""

import platform

from tests.support.redis_memory import HEADROOM, heroku_plans, measure


def main() -> None:
    measurement = measure()
    print(f"{measurement.server} on {platform.machine()}, {platform.python_implementation()} {platform.python_version()}")
    print(f"\nsent (an email):\n{measurement.sent.table()}")
    print(f"\nfailed for good (after every retry):\n{measurement.failed.table()}")
    print(
        f"\nRedis with the app's fixed keys: {measurement.fixed_bytes / 1024:.0f} KiB;"
        f" a client connection: {measurement.bytes_per_connection / 1024:.1f} KiB; headroom {HEADROOM:.0%}"
    )
    print(f"\n{'plan':<10} {'memory':>7} {'conns':>5} {'sent/day':>9} {'sent/day, 1% failing':>21} {'failed/day':>11}")
    for plan in heroku_plans():
        print(
            f"{plan.name:<10} {plan.bytes // 2**20:>4} MB {plan.connections:>5} {measurement.sent_per_day(plan):>9,}"
            f" {measurement.sent_per_day(plan, failing=0.01):>21,} {measurement.failed_per_day(plan):>11,}"
        )


if __name__ == "__main__":
    main()
