"""Redis's memory limit. Full, with Heroku's default policy (noeviction), Redis refuses every write with OOM:
an outage to wait out, like Redis being down. Set to evict keys instead, it deletes jobs without a word.
https://devcenter.heroku.com/articles/heroku-redis#maxmemory-policy
"""

from __future__ import annotations

from redis import Redis
from redis.exceptions import ExecAbortError, OutOfMemoryError

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
