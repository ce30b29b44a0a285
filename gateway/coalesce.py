"""A response's head written together with its body: one write, not two.

uvicorn writes the status line and headers as soon as the app starts its answer, and the
body when it comes: two writes, so a waiting client is woken twice, and on a busy machine
the first wake-up can cost the server its CPU before the body is even written. Holding the
head until the body's first write sends both at once. Only the head is held, only until
that write (or the answer's end): a streamed answer's later chunks go out as they come.
uvicorn has no option for it, hence this wrapper around its request cycle's ``send``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["send_head_with_body"]

_Send = Callable[[Any], Awaitable[None]]


class _Capture:
    """The transport while the head is written: it is kept, not sent."""

    def __init__(self, transport: Any, held: list[bytes]) -> None:
        self._transport, self._held = transport, held

    def write(self, data: bytes) -> None:
        self._held.append(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class _Prefixed:
    """The transport while the body is written: its first write carries the held head."""

    def __init__(self, transport: Any, held: list[bytes]) -> None:
        self._transport, self._held = transport, held

    def flush(self) -> None:
        if self._held:
            self._transport.write(b"".join(self._held))
            self._held.clear()

    def write(self, data: bytes) -> None:
        if self._held:
            data = b"".join((*self._held, data))
            self._held.clear()
        self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def send_head_with_body(cycle: Any) -> None:
    """Make uvicorn's request ``cycle`` (httptools' RequestResponseCycle) hold its head.

    Call before the cycle's app runs. Writes outside ``send`` (an interim ``100 Continue``
    while the body is read) use the transport as before.
    """
    send: _Send = cycle.send
    held: list[bytes] = []

    async def send_holding_head(message: Any) -> None:
        kind = message["type"]
        if kind == "http.response.start" and not cycle.response_started:
            transport, cycle.transport = cycle.transport, _Capture(cycle.transport, held)
            try:
                await send(message)
            finally:
                cycle.transport = transport
            return
        if held and kind == "http.response.body":
            prefixed = _Prefixed(cycle.transport, held)
            transport, cycle.transport = cycle.transport, prefixed
            try:
                await send(message)
            finally:
                cycle.transport = transport
                prefixed.flush()  # nothing written (a HEAD's answer): the head alone
            return
        await send(message)

    cycle.send = send_holding_head
