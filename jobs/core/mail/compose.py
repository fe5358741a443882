"""Turns an OutgoingEmail into a MIME message with a plain-text and an HTML part."""

from email.message import EmailMessage
from email.utils import make_msgid

from jobs.core.mail import OutgoingEmail


def to_mime(email: OutgoingEmail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = email.sender
    message["To"] = email.recipient
    message["Subject"] = email.subject
    message["Message-ID"] = make_msgid(domain="fibtastic")
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    return message
