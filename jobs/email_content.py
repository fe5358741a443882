"""The Fibonacci email's subject and bodies, rendered from jobs/templates/."""

from functools import lru_cache

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from jobs.core.mail import OutgoingEmail
from jobs.fibonacci import fibonacci


@lru_cache(maxsize=1)
def _templates() -> Environment:
    return Environment(
        loader=PackageLoader("jobs", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def subject_for(length: int) -> str:
    return f"Your {length} Fibonacci number{'' if length == 1 else 's'}"


def fibonacci_email(sender: str, recipient: str, length: int) -> OutgoingEmail:
    numbers = fibonacci(length)
    context = {"length": length, "numbers": numbers}
    return OutgoingEmail(
        sender=sender,
        recipient=recipient,
        subject=subject_for(length),
        text=_templates().get_template("fibonacci_email.txt").render(context),
        html=_templates().get_template("fibonacci_email.html").render(context),
    )
