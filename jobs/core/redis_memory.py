"""Redis's memory limit. Full, with Heroku's default policy (noeviction), Redis refuses every write with OOM:
an outage to wait out, like Redis being down. Set to evict keys instead, it deletes jobs without a word.
https://devcenter.heroku.com/articles/heroku-redis#maxmemory-policy
"""

from __future__ import annotations

from redis.exceptions import ExecAbortError, OutOfMemoryError


def is_redis_full(error: BaseException) -> bool:
    """Redis refused a write for want of memory: OOM, or a MULTI/EXEC it aborted for that reason
    (``EXECABORT Transaction discarded because of: OOM ...``, when the limit is reached between queueing and EXEC)."""
    return isinstance(error, OutOfMemoryError) or (isinstance(error, ExecAbortError) and "OOM" in str(error))
