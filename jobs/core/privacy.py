"""Keeps people's addresses out of logs and error reports: j***@example.com."""

import re

# Anything shaped like local@domain (a URL's password@host too, on purpose); stops at "=" and ":" so "to=" stays.
_ADDRESS = re.compile(r"[^\s@<>\"'(),;:=/\[\]]+@[^\s@<>\"'(),;:=/\[\]]+")


def mask_email(address: str) -> str:
    local, at, domain = str(address).rpartition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


def mask_emails_in(text: str) -> str:
    if "@" not in text:
        return text
    return _ADDRESS.sub(lambda match: mask_email(match.group(0)), text)
