"""Keeps people's addresses out of logs and error reports: j***@example.com."""

import re

# Anything shaped like local@domain, including non-ASCII addresses, a mail
# server's "550 5.1.1 <jane@example.com>: ..." and the password@host part of a
# URL: masking those too is a feature. The local part stops at "=" and ":" so
# that to=ada@example.com keeps its "to=".
_ADDRESS = re.compile(r"[^\s@<>\"'(),;:=/\[\]]+@[^\s@<>\"'(),;:=/\[\]]+")


def mask_email(address: str) -> str:
    local, at, domain = str(address).rpartition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


def mask_emails_in(text: str) -> str:
    """``text`` with every address in it masked, for logs and error reports."""
    if "@" not in text:
        return text
    return _ADDRESS.sub(lambda match: mask_email(match.group(0)), text)
