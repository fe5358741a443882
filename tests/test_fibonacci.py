import pytest

from jobs.fibonacci import fibonacci


def test_starts_with_zero_and_one():
    assert fibonacci(10) == [0, 1, 1, 2, 3, 5, 8, 13, 21, 34]


@pytest.mark.parametrize(("length", "expected"), [(0, []), (1, [0]), (2, [0, 1])])
def test_short_sequences(length, expected):
    assert fibonacci(length) == expected


def test_each_number_is_the_sum_of_the_two_before():
    numbers = fibonacci(1000)
    assert len(numbers) == 1000
    assert all(numbers[i] == numbers[i - 1] + numbers[i - 2] for i in range(2, 1000))


def _fast_doubling(n: int) -> int:
    """F(n) by an independent method (fast doubling), to check big values exactly."""

    def pair(k: int) -> tuple[int, int]:
        if k == 0:
            return 0, 1
        a, b = pair(k // 2)
        c = a * (2 * b - a)
        d = a * a + b * b
        return (d, c + d) if k % 2 else (c, d)

    return pair(n)[0]


def test_large_numbers_are_exact():
    numbers = fibonacci(1000)
    assert numbers[999] == _fast_doubling(999)
    assert len(str(numbers[999])) == 209
    assert numbers[99] == 218922995834555169026


def test_negative_length_is_refused():
    with pytest.raises(ValueError):
        fibonacci(-1)
