"""Keeps people's addresses out of logs and error reports: j***@example.com."""

import re

# Good enough to find addresses inside free text such as a mail server's
# "550 5.1.1 <jane@example.com>: Recipient address rejected".
ADDRESS_IN_TEXT = re.compile(r"[^\s<>()\[\],;:=\"'@]+@[^\s<>()\[\],;:\"'@]+\.[^\s<>()\[\],;:\"'@]+")


def mask_email(address: str) -> str:
    local, at, domain = str(address).rpartition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


def mask_emails_in(text: str) -> str:
    """``text`` with every address in it masked."""
    return ADDRESS_IN_TEXT.sub(lambda match: mask_email(match.group(0)), text)
