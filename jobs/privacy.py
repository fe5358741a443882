"""Keeps people's addresses out of logs: j***@example.com."""


def mask_email(address: str) -> str:
    local, at, domain = str(address).rpartition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"
