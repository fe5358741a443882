"""Thread-safe in-memory storage of caught messages."""

from __future__ import annotations

import itertools
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property

from devmail import mime

DEFAULT_MAX_MESSAGES = 1000


@dataclass(frozen=True)
class Message:
    id: int
    sender: str
    recipients: tuple[str, ...]
    raw: bytes
    subject: str
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="milliseconds"))

    @property
    def size(self) -> int:
        return len(self.raw)

    @cached_property
    def parsed(self) -> mime.ParsedMessage:
        # Full MIME parsing is only needed when someone looks at the message,
        # so keep it off the SMTP hot path.
        return mime.parse(self.raw)

    def summary(self) -> dict:
        return {
            "id": self.id,
            "sender": self.sender,
            "recipients": list(self.recipients),
            "subject": self.subject,
            "size": self.size,
            "created_at": self.created_at,
        }


class MessageStore:
    """Keeps at most ``max_messages`` messages; the oldest are dropped first."""

    def __init__(self, max_messages: int = DEFAULT_MAX_MESSAGES) -> None:
        if max_messages < 1:
            raise ValueError("max_messages must be at least 1")
        self.max_messages = max_messages
        self._lock = threading.Lock()
        self._messages: OrderedDict[int, Message] = OrderedDict()
        self._ids = itertools.count(1)
        self._version = 0
        # Distinguishes this store's versions from a previous process's, so a
        # browser's cached ETag can never match after a restart.
        self._instance = secrets.token_hex(4)

    def add(self, sender: str, recipients: list[str], raw: bytes) -> Message:
        subject = mime.subject_of(raw)
        with self._lock:
            message = Message(
                id=next(self._ids),
                sender=sender,
                recipients=tuple(recipients),
                raw=bytes(raw),
                subject=subject,
            )
            self._messages[message.id] = message
            while len(self._messages) > self.max_messages:
                self._messages.popitem(last=False)
            self._version += 1
        return message

    def list(self) -> list[Message]:
        """All kept messages, oldest first."""
        with self._lock:
            return list(self._messages.values())

    def get(self, message_id: int) -> Message | None:
        with self._lock:
            return self._messages.get(message_id)

    def delete(self, message_id: int) -> bool:
        with self._lock:
            if self._messages.pop(message_id, None) is None:
                return False
            self._version += 1
            return True

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()
            self._version += 1

    @property
    def version(self) -> str:
        """Opaque token that changes whenever the set of messages changes."""
        with self._lock:
            return f"{self._instance}-{self._version}"

    def __len__(self) -> int:
        with self._lock:
            return len(self._messages)
