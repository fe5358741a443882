"""Redis round trips and commands per submission, by the answer it gets, with both rate limits on:
what a change to the limits costs each kind of request (docs/benchmarks.md, issue 17). In process
(Flask's test client: the same Redis calls as under gunicorn), against a throwaway redis-server,
counted by the server (bench/redis_counts.py). Counts, not timings: they do not depend on the load.

    python -m bench.rate_limit_round_trips
"""

from __future__ import annotations

from bench.redis_counts import describe, per_request, snapshot
from jobs.core.connection import connect_redis
from jobs.core.settings import Settings
from tests.support.redis_server import RedisServer
from web import create_app

REQUESTS = 200


def main() -> None:
    server = RedisServer().start()
    try:
        redis = connect_redis(server.url)
        # The per-IP limit out of the way; the per-recipient one as deployed.
        settings = Settings(redis_url=server.url, secret_key="bench-" * 8, rate_limit_per_ip="1000000/minute", queue_report_schedule=None)
        client = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "FIBTASTIC_SETTINGS": settings}).test_client()

        def api(email: str, length: int = 5, **headers: str):
            return client.post("/api/sequences", json={"email": email, "length": length}, headers=headers)

        kinds = {
            "API, accepted": lambda n: api(f"a{n}@example.com"),
            "form, accepted": lambda n: client.post("/sequences", data={"email": f"f{n}@example.com", "length": "5"}),
            "API, invalid": lambda n: api(f"a{n}@example.com", length=0),
            "API, recipient over its limit": lambda n: api("a0@example.com"),
            "API, new Idempotency-Key": lambda n: api(f"k{n}@example.com", Idempotency_Key=f"k{n}"),
            "API, repeated Idempotency-Key": lambda n: api(f"k{n}@example.com", Idempotency_Key=f"k{n}"),
        }
        print(f"{REQUESTS} requests of each kind, in this order; RATE_LIMIT_PER_RECIPIENT={settings.rate_limit_per_recipient}")
        print("| request | answers | round trips | commands | commands by name |")
        print("|---|---|---|---|---|")
        for name, send in kinds.items():
            before = snapshot(redis)
            answers = sorted({send(n).status_code for n in range(REQUESTS)})
            counts = per_request(before, snapshot(redis), REQUESTS)
            figures = f"{counts['round_trips']:.2f} | {counts['total_commands']:.1f} | {describe(counts['commands'])}"
            print(f"| {name} | {', '.join(map(str, answers))} | {figures} |")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
