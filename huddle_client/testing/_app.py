"""The ASGI app every fleet server runs: the mode gate, then a handful of endpoints.

Every request is counted, then passes the gate (hang, fail or wait the server's latency), then
reaches its endpoint. The app is plain ASGI with no framework, because each framework layer
costs CPU per request and the fleet must leave the cores to the code under test.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from ._state import ServerState

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_PATTERN_PERIOD = 256
_MAX_CHUNK = 1 << 20


def stream_payload(n: int, offset: int = 0) -> bytes:
    """The bytes ``GET /stream`` sends from ``offset``: byte k is ``k % 256``.

    A position-dependent pattern lets a proxy test detect lost, repeated or reordered chunks.
    """
    start = offset % _PATTERN_PERIOD
    whole = bytes(range(_PATTERN_PERIOD)) * ((start + n) // _PATTERN_PERIOD + 1)
    return whole[start : start + n]


class FleetApp:
    """ASGI app of one fleet server; its behaviour lives in the shared :class:`ServerState`."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self._name_bytes = state.name.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        state = self.state
        method: str = scope["method"]
        path: str = scope["path"]
        state.count(method, path)
        if not await self._gate(send):
            return
        if path == "/health":
            await _send_json(send, 200, {"server": state.name, "status": "ok"})
        elif path == "/echo":
            await self._echo(scope, receive, send)
        elif path == "/stream":
            await self._stream(scope, receive, send)
        elif path == "/upload":
            await self._upload(receive, send)
        elif path.startswith("/status/"):
            await self._status(path, receive, send)
        elif path == "/headers":
            await self._headers(scope, receive, send)
        else:
            size = await _drain(receive)
            await _send_json(send, 200, self._identity(scope) | {"body_bytes": size})

    async def _gate(self, send: Send) -> bool:
        """Apply the mode; True when the endpoint should answer."""
        state = self.state
        behaviour = state.behaviour
        while behaviour.mode == "hang":
            if not await state.pause(None):
                return False
            behaviour = state.behaviour
        if behaviour.mode == "crash":
            return False  # the listener is closing; its connections are being aborted
        if behaviour.mode == "error" or (behaviour.mode == "flaky" and state.fails_now(behaviour)):
            body = {"server": state.name, "error": behaviour.status, "mode": behaviour.mode}
            await _send_json(send, behaviour.status, body)
            return False
        delay = state.latency_s(behaviour)
        return delay <= 0 or await state.pause(delay)

    def _identity(self, scope: Scope) -> dict[str, Any]:
        return {
            "server": self.state.name,
            "method": scope["method"],
            "path": scope["path"],
            "query": scope["query_string"].decode("latin-1"),
        }

    async def _echo(self, scope: Scope, receive: Receive, send: Send) -> None:
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            text, encoding = body.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, encoding = base64.b64encode(body).decode("ascii"), "base64"
        headers = [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]]
        answer = self._identity(scope) | {
            "headers": headers,
            "body": text,
            "body_encoding": encoding,
        }
        await _send_json(send, 200, answer)

    async def _stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        query = dict(parse_qsl(scope["query_string"].decode("latin-1")))
        try:
            total = int(query.get("bytes", "1024"))
            chunk = min(int(query.get("chunk", "65536")), _MAX_CHUNK)
            delay = float(query.get("delay_ms", "0")) / 1000.0
        except ValueError:
            await _send_json(send, 400, {"server": self.state.name, "error": "bad stream query"})
            return
        if total < 0 or chunk <= 0 or delay < 0:
            await _send_json(send, 400, {"server": self.state.name, "error": "bad stream query"})
            return
        await _drain(receive)
        # After the request body, receive() only returns on disconnect: watch it, so a client
        # that leaves mid-stream stops the stream instead of being fed into the void.
        gone = asyncio.ensure_future(receive())
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"application/octet-stream"),
                        (b"content-length", str(total).encode()),
                        (b"x-fleet-server", self._name_bytes),
                    ],
                }
            )
            block = stream_payload(chunk + _PATTERN_PERIOD)
            sent = 0
            while sent < total and not gone.done():
                size = min(chunk, total - sent)
                start = sent % _PATTERN_PERIOD
                more = sent + size < total
                await send(
                    {
                        "type": "http.response.body",
                        "body": block[start : start + size],
                        "more_body": more,
                    }
                )
                sent += size
                if more and delay and not await self.state.pause(delay):
                    return
                if not delay:
                    # Yield to the loop, so a client that left is noticed (as `gone`) instead
                    # of being written to until asyncio complains about the dead socket.
                    await asyncio.sleep(0)
            if total == 0:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            gone.cancel()

    async def _upload(self, receive: Receive, send: Send) -> None:
        size = await _drain(receive)
        if size is not None:
            await _send_json(send, 200, {"server": self.state.name, "received": size})

    async def _status(self, path: str, receive: Receive, send: Send) -> None:
        try:
            code = int(path.removeprefix("/status/"))
        except ValueError:
            code = 0
        await _drain(receive)
        if not 200 <= code <= 599:
            await _send_json(send, 400, {"server": self.state.name, "error": "bad status code"})
        elif code in (204, 304):
            await _send_empty(send, code, [])
        else:
            await _send_json(send, code, {"server": self.state.name, "status": code})

    async def _headers(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer with the response headers named in the query; ``status`` picks the code."""
        pairs = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
        status = 200
        headers = []
        for key, value in pairs:
            if key == "status" and value.isdigit() and 200 <= int(value) <= 599:
                status = int(value)
            else:
                headers.append((key.encode("latin-1"), value.encode("latin-1")))
        await _drain(receive)
        body = self._identity(scope) | {"set_headers": [[k, v] for k, v in pairs]}
        await _send_json(send, status, body, headers)


async def _drain(receive: Receive) -> int | None:
    """Read and drop the request body chunk by chunk; its size, or None on disconnect.

    Dropping each chunk keeps memory flat however large the upload is: uvicorn stops reading
    the socket while a chunk waits here, so the body never piles up in a buffer.
    """
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        size += len(message.get("body", b""))
        if not message.get("more_body", False):
            return size


async def _send_json(
    send: Send,
    status: int,
    body: dict[str, Any],
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    data = json.dumps(body, separators=(",", ":")).encode()
    head = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(data)).encode()),
        *(headers or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": data, "more_body": False})


async def _send_empty(send: Send, status: int, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"", "more_body": False})
