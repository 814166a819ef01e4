"""WebSocket fan-out: subscribers per (channel, id), one outgoing queue per connection.

A message is serialised once and shared by every subscriber; only the per-connection
``message_id`` prefix is formatted per send. A connection whose queue is full is dropped rather than
slowing everyone down.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from typing import Any

QUEUE_LIMIT = 10_000


class Connection:
    __slots__ = ("connection_id", "message_id", "queue", "subscriptions")

    def __init__(self, connection_id: str) -> None:
        self.connection_id = connection_id
        self.message_id = 0
        self.queue: asyncio.Queue[str | None] = asyncio.Queue(QUEUE_LIMIT)
        self.subscriptions: set[tuple[str, str]] = set()

    def send(self, body: dict[str, Any] | str) -> bool:
        """Queue a message: a dict, or the shared JSON tail of a channel_data message."""
        self.message_id += 1
        if isinstance(body, dict):
            text = json.dumps({**body, "message_id": self.message_id}, separators=(",", ":"))
        else:
            text = f'{{"message_id":{self.message_id},{body}'
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            return False
        return True


class Hub:
    def __init__(self) -> None:
        self.subscribers: dict[tuple[str, str], set[Connection]] = defaultdict(set)

    def subscribe(self, conn: Connection, channel: str, ident: str) -> None:
        self.subscribers[(channel, ident)].add(conn)
        conn.subscriptions.add((channel, ident))

    def unsubscribe(self, conn: Connection, channel: str, ident: str) -> None:
        self.subscribers[(channel, ident)].discard(conn)
        conn.subscriptions.discard((channel, ident))

    def drop(self, conn: Connection) -> None:
        for key in list(conn.subscriptions):
            self.subscribers[key].discard(conn)
        conn.subscriptions.clear()
        conn.queue.put_nowait(None) if not conn.queue.full() else None

    def has(self, channel: str, ident: str) -> bool:
        return bool(self.subscribers.get((channel, ident)))

    def publish(self, channel: str, ident: str, contents: dict[str, Any]) -> None:
        conns = self.subscribers.get((channel, ident))
        if not conns:
            return
        tail = json.dumps(
            {"type": "channel_data", "id": ident, "channel": channel, "contents": contents},
            separators=(",", ":"),
        )[1:]
        for conn in list(conns):
            if not conn.send(tail):
                self.drop(conn)
