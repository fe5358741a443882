"""What a stretch of load cost Redis: commands by name, round trips and new
connections, from the server's own counters (INFO commandstats and stats).

A round trip is one read the server processed (``total_reads_processed``):
a client that pipelines several commands sends them in one read, so this
counts what the client waited for, not what it asked."""

from __future__ import annotations

from dataclasses import dataclass

from redis import Redis


@dataclass
class Snapshot:
    commands: dict[str, int]
    reads: int
    connections: int


def snapshot(connection: Redis) -> Snapshot:
    stats = connection.info("stats")
    commands = {name.removeprefix("cmdstat_"): fields["calls"] for name, fields in connection.info("commandstats").items()}
    return Snapshot(commands, stats["total_reads_processed"], stats["total_connections_received"])


def per_request(before: Snapshot, after: Snapshot, requests: int) -> dict:
    """Average per request between two snapshots; the two INFO calls each
    snapshot makes are taken out."""
    commands = {name: calls - before.commands.get(name, 0) for name, calls in after.commands.items()}
    commands["info"] = commands.get("info", 0) - 2
    commands = {name: calls / requests for name, calls in commands.items() if calls > 0}
    return {
        "commands": dict(sorted(commands.items(), key=lambda item: -item[1])),
        "total_commands": sum(commands.values()),
        "round_trips": (after.reads - before.reads - 2) / requests,
        "new_connections": (after.connections - before.connections) / requests,
    }


def describe(commands: dict[str, float]) -> str:
    return ", ".join(f"{name.upper()} {calls:.2g}" for name, calls in commands.items())
