"""Reads the Fibonacci numbers back out of a received email."""

import re

from jobs.fibonacci import fibonacci

_TEXT_LINE = re.compile(r"^F\((\d+)\) = (\d+)$", re.MULTILINE)
_HTML_CELL = re.compile(r'<td class="number"[^>]*>(\d+)</td>')


def numbers_in_text(text: str) -> list[int]:
    pairs = [(int(index), int(number)) for index, number in _TEXT_LINE.findall(text.replace("\r\n", "\n"))]
    assert [index for index, _ in pairs] == list(range(len(pairs))), "numbers out of order"
    return [number for _, number in pairs]


def numbers_in_html(html: str) -> list[int]:
    return [int(number) for number in _HTML_CELL.findall(html)]


def assert_fibonacci_email(received, recipient: str, length: int) -> None:
    """Every number, in both parts, and the right subject and recipient."""
    assert received.recipients == [recipient]
    assert received.message["To"] == recipient
    assert received.message["Subject"] == f"Your {length} Fibonacci number{'' if length == 1 else 's'}"
    expected = fibonacci(length)
    assert numbers_in_text(received.part("text/plain")) == expected
    assert numbers_in_html(received.part("text/html")) == expected
