"""The Fibonacci sequence, in linear time (the Rails original recursed exponentially and stopped at 27)."""

from collections.abc import Iterator
from itertools import islice


def iter_fibonacci() -> Iterator[int]:
    """Yield 0, 1, 1, 2, 3, 5, ... forever."""
    current, following = 0, 1
    while True:
        yield current
        current, following = following, current + following


def fibonacci(length: int) -> list[int]:
    """Return the first ``length`` Fibonacci numbers, starting 0, 1."""
    if length < 0:
        raise ValueError(f"length must not be negative, not {length}")
    return list(islice(iter_fibonacci(), length))
