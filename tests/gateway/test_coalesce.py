"""A response's head goes out with its body in one write (gateway.coalesce), on uvicorn's
own request cycle: what a client reads is the same, in fewer writes."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

from gateway.coalesce import send_head_with_body


class _Transport:
    """What uvicorn writes, write by write."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


def _cycle(method: str = "GET", *, keep_alive: bool = True, expect_100: bool = False) -> Any:
    transport = _Transport()
    scope: Any = {"type": "http", "method": method, "path": "/", "http_version": "1.1"}
    cycle = RequestResponseCycle(
        scope=scope,
        transport=transport,  # type: ignore[arg-type]
        flow=FlowControl(transport),  # type: ignore[arg-type]
        logger=logging.getLogger("test"),
        access_logger=logging.getLogger("test.access"),
        access_log=False,
        default_headers=[(b"server", b"minplan")],
        message_event=asyncio.Event(),
        expect_100_continue=expect_100,
        keep_alive=keep_alive,
        on_response=lambda: None,
    )
    send_head_with_body(cycle)
    return cycle, transport


START = {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"5")]}


def test_head_and_body_are_one_write() -> None:
    async def answer() -> list[bytes]:
        cycle, transport = _cycle()
        await cycle.send(START)
        assert transport.writes == []  # held until the body
        await cycle.send({"type": "http.response.body", "body": b"hello"})
        return transport.writes

    writes = asyncio.run(answer())
    assert len(writes) == 1
    head, body = writes[0].split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200 OK\r\nserver: minplan\r\ncontent-length: 5")
    assert body == b"hello"


def test_a_streamed_answer_sends_its_later_chunks_as_they_come() -> None:
    async def answer() -> list[bytes]:
        cycle, transport = _cycle()
        await cycle.send({"type": "http.response.start", "status": 200, "headers": []})
        await cycle.send({"type": "http.response.body", "body": b"a", "more_body": True})
        await cycle.send({"type": "http.response.body", "body": b"b", "more_body": True})
        await cycle.send({"type": "http.response.body", "body": b""})
        return transport.writes

    writes = asyncio.run(answer())
    assert writes[0].startswith(b"HTTP/1.1 200 OK") and writes[0].endswith(b"1\r\na\r\n")
    assert writes[1:] == [b"1\r\nb\r\n", b"0\r\n\r\n"]


@pytest.mark.parametrize("keep_alive", [True, False], ids=["kept-alive", "closing"])
def test_a_head_answer_writes_its_head_alone_before_any_close(keep_alive: bool) -> None:
    async def answer() -> _Transport:
        cycle, transport = _cycle("HEAD", keep_alive=keep_alive)
        await cycle.send(START)
        await cycle.send({"type": "http.response.body", "body": b""})
        return transport

    transport = asyncio.run(answer())
    assert len(transport.writes) == 1
    assert transport.writes[0].startswith(b"HTTP/1.1 200 OK")
    assert transport.writes[0].endswith(b"\r\n\r\n")
    assert transport.closed is not keep_alive


def test_an_interim_100_continue_is_not_held() -> None:
    async def answer() -> list[bytes]:
        cycle, transport = _cycle("POST", expect_100=True)
        cycle.body, cycle.more_body = bytearray(b"x"), False
        cycle.message_event.set()
        await cycle.receive()  # the app reads the body: the client is told to go on
        assert transport.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]
        await cycle.send(START)
        await cycle.send({"type": "http.response.body", "body": b"hello"})
        return transport.writes

    writes = asyncio.run(answer())
    assert len(writes) == 2 and writes[1].endswith(b"\r\n\r\nhello")
