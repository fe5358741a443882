"""Redis's memory limit. Full, with Heroku's default policy (noeviction), Redis refuses every write with OOM:
an outage to wait out, like Redis being down. Set to evict keys instead, it deletes jobs without a word.
https://devcenter.heroku.com/articles/heroku-redis#maxmemory-policy
"""

from __future__ import annotations

import logging

from redis import Redis
from redis.exceptions import ExecAbortError, OutOfMemoryError, RedisError

# SET ... XX of this key, which nobody creates: see accepts_writes.
WRITE_PROBE_KEY = "fibtastic:write-probe"


def is_redis_full(error: BaseException) -> bool:
    """Redis refused a write for want of memory: OOM, or a MULTI/EXEC it aborted for that reason
    (``EXECABORT Transaction discarded because of: OOM ...``, when the limit is reached between queueing and EXEC)."""
    return isinstance(error, OutOfMemoryError) or (isinstance(error, ExecAbortError) and "OOM" in str(error))


def accepts_writes(connection: Redis) -> bool:
    """Whether Redis takes writes now, in one round trip that changes nothing: Redis checks its memory before
    any write command runs (evicting first, under a policy that evicts), and SET XX of a missing key stores nothing."""
    try:
        connection.set(WRITE_PROBE_KEY, "", xx=True)
    except OutOfMemoryError:
        return False
    return True


def warn_if_redis_evicts(connection: Redis, log: logging.Logger) -> None:
    """One warning line if Redis deletes keys when full (any maxmemory-policy but noeviction): RQ's jobs are
    keys, so they would vanish unsent, without an error anywhere. Reads INFO, which works where CONFIG is
    disabled (Heroku). Says nothing if Redis cannot be asked: this must not stop a process from starting."""
    try:
        memory = connection.info("memory")
    except RedisError:
        return
    policy = memory.get("maxmemory_policy", "noeviction")
    # maxmemory 0: no limit, nothing is ever evicted, whatever the policy.
    if policy != "noeviction" and memory.get("maxmemory", 0):
        log.warning(
            "redis evicts keys when full (maxmemory-policy %s): queued jobs can vanish unsent, without an error; "
            "keep them with: heroku redis:maxmemory <addon> --policy noeviction",
            policy,
        )
