"""UpstreamFleet: n real HTTP/1.1 servers on 127.0.0.1 whose behaviour changes while traffic flows.

All servers share one asyncio event loop in one background thread, each a ``uvicorn.Server``
(httptools parser when installed) on a socket the fleet binds itself: one thread for the whole
fleet keeps CPU and context switches low, and owning the socket lets ``crash`` really stop
listening and ``recover`` bind the same port again. Mode switches are submitted to the loop and
have taken effect when the call returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
import struct
import threading
from collections.abc import Coroutine, Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

from ._app import FleetApp
from ._behaviour import NORMAL, Behaviour, behaviour_for
from ._schedule import EventSpec, FleetEvent, FleetSchedule, as_events
from ._state import ServerState

T = TypeVar("T")

HOST = "127.0.0.1"
_CALL_TIMEOUT_S = 30.0
_BIND_ATTEMPTS = 100


def _import_uvicorn() -> Any:
    try:
        import uvicorn
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            'UpstreamFleet needs uvicorn: pip install "huddle-client[testing]"'
        ) from exc
    return uvicorn


@dataclass
class _Listener:
    """One listening generation of a server: from bind (or recover) to crash (or stop)."""

    uvicorn_server: Any
    task: asyncio.Task[None]


class FleetServer:
    """One upstream of a fleet: its address, its mode switches and what it received.

    Get it from the fleet (``fleet[0]``), never build it. Example::

        fleet[1].slow(5.0)           # five times the base latency
        fleet[2].crash()             # ECONNREFUSED from now on
        fleet[2].recover()           # listening again, same port
        assert fleet[0].received("POST", "/orders") == 1
    """

    def __init__(self, fleet: UpstreamFleet, index: int, state: ServerState) -> None:
        self._fleet = fleet
        self.index = index
        self._state = state
        self._port: int | None = None
        self._listener: _Listener | None = None
        self._config: Any = None

    @property
    def name(self) -> str:
        return self._state.name

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the fleet is not started")
        return self._port

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def mode(self) -> str:
        """The current mode's name: normal, slow, crash, error, hang or flaky."""
        return self._state.behaviour.mode

    @property
    def behaviour(self) -> Behaviour:
        """The current mode with its parameters (factor, status, p)."""
        return self._state.behaviour

    def normal(self) -> None:
        """Answer after the base latency; a crashed server listens again on its port."""
        self._fleet._switch_from_caller(self, NORMAL)

    def recover(self) -> None:
        """Back to normal, listening again on the same port after a crash."""
        self._fleet._switch_from_caller(self, NORMAL)

    def slow(self, factor: float) -> None:
        """Answer after ``base_latency_ms * factor`` (plus jitter)."""
        self._fleet._switch_from_caller(self, behaviour_for("slow", factor))

    def crash(self) -> None:
        """Stop listening and reset open connections: in-flight requests fail, connects refused."""
        self._fleet._switch_from_caller(self, behaviour_for("crash"))

    def error(self, status: int = 500) -> None:
        """Answer every request at once with ``status`` and a small JSON body."""
        self._fleet._switch_from_caller(self, behaviour_for("error", status))

    def hang(self) -> None:
        """Accept and read requests but never answer, until the next switch or stop."""
        self._fleet._switch_from_caller(self, behaviour_for("hang"))

    def flaky(self, p: float, status: int = 500) -> None:
        """Fail each request with ``status`` with probability ``p``, else answer normally."""
        self._fleet._switch_from_caller(self, behaviour_for("flaky", p, status))

    @property
    def counts(self) -> dict[tuple[str, str], int]:
        """Requests received so far, by (method, path); a copy."""
        return self._state.counts()

    def received(self, method: str | None = None, path: str | None = None) -> int:
        """How many requests matched ``method`` and ``path`` (None matches any)."""
        return self._state.received(method, path)

    def reset_counts(self) -> None:
        self._state.reset_counts()

    def __repr__(self) -> str:
        where = self._port if self._port is not None else "unstarted"
        return f"<FleetServer {self.name} port={where} mode={self.mode}>"


class UpstreamFleet:
    """``n`` real HTTP/1.1 upstream servers on loopback, for tests, demos and benchmarks.

    Every path answers ``{"server": name, ...}`` after the server's latency; see the README
    for the endpoints (``/health``, ``/echo``, ``/stream``, ``/upload``, ``/status/{code}``,
    ``/headers``). Example::

        with UpstreamFleet(n=3, base_latency_ms=5) as fleet:
            fleet[0].crash()
            httpx.get(fleet.urls[1] + "/anything").json()["server"]  # "s1"
    """

    def __init__(
        self,
        n: int = 6,
        base_latency_ms: float = 20.0,
        jitter_ms: float = 2.0,
        seed: int | None = None,
    ) -> None:
        if n < 1:
            raise ValueError(f"a fleet needs at least one server, got n={n}")
        if base_latency_ms < 0 or jitter_ms < 0:
            raise ValueError("base_latency_ms and jitter_ms must be >= 0")
        self.base_latency_ms = float(base_latency_ms)
        self.jitter_ms = float(jitter_ms)
        self.seed = seed
        self._servers = [
            FleetServer(self, i, ServerState(f"s{i}", self.base_latency_ms, self.jitter_ms, seed))
            for i in range(n)
        ]
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._switch_lock: asyncio.Lock | None = None
        self._schedules: set[FleetSchedule] = set()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> UpstreamFleet:
        """Bind n free ports and start serving; returns the fleet. A fleet starts only once."""
        if self._loop is not None or self._stopped:
            raise RuntimeError("an UpstreamFleet can be started only once")
        uvicorn = _import_uvicorn()
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(
            target=self._run_loop, args=(loop,), name="huddle-upstream-fleet", daemon=True
        )
        self._thread.start()
        try:
            self._call(self._open_all(uvicorn))
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Close every socket and connection and end the loop thread; safe to call twice."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or self._stopped:
            return
        self._stopped = True
        for schedule in list(self._schedules):
            schedule.cancel()
        try:
            if loop.is_running():
                future = asyncio.run_coroutine_threadsafe(self._close_all(), loop)
                future.result(_CALL_TIMEOUT_S)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(_CALL_TIMEOUT_S)

    def __enter__(self) -> UpstreamFleet:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._loop is not None and not self._stopped

    # -- access ----------------------------------------------------------------------------

    @property
    def urls(self) -> list[str]:
        return [server.url for server in self._servers]

    @property
    def servers(self) -> list[FleetServer]:
        return list(self._servers)

    def server_for(self, url: str) -> FleetServer:
        """The server at ``url`` (its origin; a trailing path is ignored)."""
        for server in self._servers:
            if url == server.url or url.startswith(server.url + "/"):
                return server
        raise KeyError(url)

    def __len__(self) -> int:
        return len(self._servers)

    def __getitem__(self, index: int) -> FleetServer:
        return self._servers[index]

    def __iter__(self) -> Iterator[FleetServer]:
        return iter(self._servers)

    def __repr__(self) -> str:
        state = "running" if self.running else ("stopped" if self._stopped else "new")
        return f"<UpstreamFleet n={len(self)} {state} base_latency_ms={self.base_latency_ms}>"

    # -- fleet-wide control ----------------------------------------------------------------

    def reset(self) -> None:
        """Cancel schedules, put every server back to normal and listening, zero the counts.

        With a seed, the random generators restart too, so each test replays the same draws.
        """
        for schedule in list(self._schedules):
            schedule.cancel()
        self._schedules.clear()
        self._call(self._reset_all())

    def total_received(self, method: str | None = None, path: str | None = None) -> int:
        return sum(server.received(method, path) for server in self._servers)

    def run_schedule(self, events: Iterable[EventSpec]) -> FleetSchedule:
        """Apply each event at its time (seconds from now) on a background timer.

        Events are ``FleetEvent`` or tuples ``(at, server, mode[, arg])``; all are validated
        before the first is applied. Example::

            plan = fleet.run_schedule([(0.2, 0, "crash"), (1.0, 0, "recover")])
            plan.join(timeout=5)
        """
        loop = self._require_loop()
        schedule = FleetSchedule(as_events(events, len(self)), self._apply_event, loop)
        self._schedules = {s for s in self._schedules if not s.done}
        self._schedules.add(schedule)
        return schedule

    # -- loop thread -----------------------------------------------------------------------

    def _run_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            leftovers = asyncio.all_tasks(loop)
            for task in leftovers:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
            asyncio.set_event_loop(None)
            loop.close()

    def _require_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None or self._stopped:
            raise RuntimeError("the fleet is not running (use start() or a with block)")
        return self._loop

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the fleet loop and wait for its result, from any other thread."""
        try:
            loop = self._require_loop()
        except RuntimeError:
            coro.close()
            raise
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("fleet control cannot be called from the fleet's own loop")
        return asyncio.run_coroutine_threadsafe(coro, loop).result(_CALL_TIMEOUT_S)

    def _switch_from_caller(self, server: FleetServer, behaviour: Behaviour) -> None:
        self._call(self._switch(server, behaviour))

    async def _apply_event(self, event: FleetEvent) -> None:
        # Shielded: cancelling a schedule must not cut a crash or a recover in half.
        await asyncio.shield(self._switch(self._servers[event.server], event.behaviour()))

    async def _switch(self, server: FleetServer, behaviour: Behaviour) -> None:
        if self._switch_lock is None:
            self._switch_lock = asyncio.Lock()
        async with self._switch_lock:
            state = server._state
            state.behaviour = behaviour
            if behaviour.mode == "crash":
                if server._listener is not None:
                    await self._unlisten(server)
            else:
                state.release_hung()
                if server._listener is None and not self._stopped:
                    await self._listen(server)

    async def _open_all(self, uvicorn: Any) -> None:
        for server in self._servers:
            server._config = uvicorn.Config(
                FleetApp(server._state),
                host=HOST,
                lifespan="off",
                interface="asgi3",
                ws="none",
                access_log=False,
                log_config=None,
                log_level=None,
                server_header=False,
                proxy_headers=False,
            )
        await asyncio.gather(*(self._listen(server, uvicorn) for server in self._servers))

    async def _listen(self, server: FleetServer, uvicorn: Any = None) -> None:
        uvicorn = uvicorn or _import_uvicorn()
        sock = await _bind(server._port or 0)
        server._port = sock.getsockname()[1]
        uv = uvicorn.Server(server._config)
        task = asyncio.get_running_loop().create_task(uv.serve(sockets=[sock]))
        server._listener = _Listener(uv, task)
        for _ in range(5000):
            if uv.started or task.done():
                break
            await asyncio.sleep(0.001)
        if not uv.started:
            server._listener = None
            task.cancel()
            sock.close()
            with contextlib.suppress(BaseException):
                await task
            raise RuntimeError(f"fleet server {server.name} did not start on port {server._port}")

    async def _unlisten(self, server: FleetServer) -> None:
        listener, server._listener = server._listener, None
        if listener is None:
            return
        uv = listener.uvicorn_server
        for asyncio_server in getattr(uv, "servers", []):
            asyncio_server.close()
        _reset_connections(uv)
        server._state.wake_all_closed()
        # A connection accepted just before the close gets its protocol a few loop turns
        # later: look again so that it is reset too instead of left waiting.
        for _ in range(3):
            await asyncio.sleep(0)
        _reset_connections(uv)
        listener.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener.task

    async def _reset_all(self) -> None:
        for server in self._servers:
            await self._switch(server, NORMAL)
            server.reset_counts()
            server._state.reseed()

    async def _close_all(self) -> None:
        for server in self._servers:
            server._state.behaviour = behaviour_for("crash")
            await self._unlisten(server)
        # Requests woken by the close finish within a few loop turns; give them that, bounded.
        current = asyncio.current_task()
        for _ in range(200):
            if all(t.done() or t is current for t in asyncio.all_tasks()):
                break
            await asyncio.sleep(0.005)


def _reset_connections(uvicorn_server: Any) -> None:
    """Abort every open connection with an RST (SO_LINGER 0), as a crashed host would."""
    state = getattr(uvicorn_server, "server_state", None)
    for connection in list(getattr(state, "connections", ())):
        transport = getattr(connection, "transport", None)
        if transport is None or transport.is_closing():
            continue
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()


async def _bind(port: int) -> socket.socket:
    """A non-blocking TCP socket bound to 127.0.0.1:port (0: any free port).

    SO_REUSEADDR lets a recovered server take its port back while connections of its previous
    life linger in TIME_WAIT; a short bounded retry covers the moment the kernel needs.
    """
    for attempt in range(_BIND_ATTEMPTS):
        # proto=IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are
        # TCP, and without it uvicorn's separate header and body writes meet delayed ACKs (40 ms).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError as exc:
            sock.close()
            if port == 0 or exc.errno != errno.EADDRINUSE or attempt == _BIND_ATTEMPTS - 1:
                raise
            await asyncio.sleep(0.01)
            continue
        sock.setblocking(False)
        return sock
    raise AssertionError("unreachable")  # pragma: no cover
