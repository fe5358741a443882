"""What one more Redis round trip costs a web process: redis-py's client CPU and wall time per call,
for the calls a rate limit could make, against a throwaway redis-server on this machine. The floor
under any Redis-backed rate limit, next to what flask-limiter's two limits cost (docs/benchmarks.md).

    python -m bench.redis_call_cost
"""

from __future__ import annotations

import time

from jobs.core.connection import connect_redis
from tests.support.redis_server import RedisServer

CALLS = 5000
ROUNDS = 5

# limits' fixed-window script (limits/resources/redis/lua_scripts/incr_expire.lua), as flask-limiter runs it per hit.
INCR_EXPIRE = """
local current = redis.call("incrby", KEYS[1], tonumber(ARGV[2]))
if tonumber(current) == tonumber(ARGV[2]) then redis.call("expire", KEYS[1], ARGV[1]) end
return current
"""


def per_call(call) -> tuple[float, float]:
    """Best of ROUNDS: (client CPU ms, wall ms) per call."""
    for index in range(CALLS // 5):  # warm up
        call(index)
    best_cpu = best_wall = float("inf")
    for _ in range(ROUNDS):
        cpu, wall = time.process_time(), time.perf_counter()
        for index in range(CALLS):
            call(index)
        best_cpu = min(best_cpu, (time.process_time() - cpu) * 1000 / CALLS)
        best_wall = min(best_wall, (time.perf_counter() - wall) * 1000 / CALLS)
    return best_cpu, best_wall


def main() -> None:
    server = RedisServer().start()
    try:
        redis = connect_redis(server.url)
        script = redis.register_script(INCR_EXPIRE)

        def two_counters_in_one_pipeline(index: int) -> None:
            pipeline = redis.pipeline(transaction=False)
            pipeline.incr(f"ip:{index % 1000}").expire(f"ip:{index % 1000}", 60, nx=True)
            pipeline.incr(f"to:{index % 1000}").expire(f"to:{index % 1000}", 3600, nx=True)
            pipeline.execute()

        calls = {
            "GET": lambda index: redis.get(f"k:{index % 1000}"),
            "EVALSHA (limits' fixed-window hit)": lambda index: script(keys=[f"k:{index % 1000}"], args=[60, 1]),
            "one pipeline: two counters, INCR + EXPIRE NX each": two_counters_in_one_pipeline,
        }
        print(f"redis-py, {CALLS} calls x {ROUNDS} rounds, best round; Redis on this machine")
        print("| call | client CPU per call | wall per call |")
        print("|---|---|---|")
        for name, call in calls.items():
            cpu, wall = per_call(call)
            print(f"| {name} | {cpu:.3f} ms | {wall:.3f} ms |")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
