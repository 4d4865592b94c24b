"""The demo's two balancers and their load loops, side by side on one fleet.

Both sides get the same number of closed-loop callers (threads, one ``httpx.Client`` each)
over the same fleet at the same time; only the transport differs:

- **huddle**: the benchmark's :class:`~huddle_client.bench._huddle.HuddleRow` (``HuddleTransport``
  over a cluster with an ``HTTPProbe``, so a healed server is probed and readmitted), with
  dwell and cooldown shortened in proportion to the story (:func:`huddle_row`);
- **round robin**: the benchmark's plain :class:`~huddle_client.bench._balancers.RoundRobin`
  over every server, with no retry, so a crash shows as failed requests and a slow server as
  a high p99 (:func:`round_robin_transports`).

Every loop is the benchmark's :func:`~huddle_client.bench._load.call_loop`, bounded twice,
by a deadline and by a request count, and every request by a short timeout, so nothing here
can hang the demo. Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx

from huddle_client import RotationEvent
from huddle_client.bench._balancers import PickerTransport, RoundRobin, Target
from huddle_client.bench._huddle import HuddleRow
from huddle_client.bench._load import Sample, call_loop

#: Requests per second one caller can make at most; with the deadline it bounds each loop.
_MAX_RATE_PER_CALLER = 500
_PATH = "/demo"


class Recorder:
    """The samples of one balancer, appended by its callers and read by the view."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._samples: list[Sample] = []

    def add(self, sample: Sample) -> None:
        with self._lock:
            self._samples.append(sample)

    def samples(self) -> list[Sample]:
        """Every sample so far (a copy), in the order they ended."""
        with self._lock:
            return list(self._samples)

    def __len__(self) -> int:
        with self._lock:
            return len(self._samples)


@dataclass(frozen=True)
class EngineTiming:
    """The cluster options the demo scales with the story, and why.

    The defaults (10 s dwell in the outer ring, 5 s cooldown between moves, a tick a second)
    suit production; in a 45 s story a healed server would not get back before the end.
    Everything is shortened by the same factor as the story itself.
    """

    min_outer_dwell_sec: float
    rotation_cooldown_sec: float
    rotation_interval_sec: float

    @classmethod
    def for_story(cls, scale: float) -> EngineTiming:
        """Timing for a story running at ``scale`` times its written 45 s length."""
        tick = min(1.0, max(0.1, 0.5 * scale))
        return cls(
            min_outer_dwell_sec=round(3.0 * scale, 2),
            rotation_cooldown_sec=round(1.5 * scale, 2),
            rotation_interval_sec=round(tick, 2),
        )

    def options(self) -> dict[str, Any]:
        """These figures as ``create_cluster`` options (probes on the same tick)."""
        return {
            "min_outer_dwell_sec": self.min_outer_dwell_sec,
            "rotation_cooldown_sec": self.rotation_cooldown_sec,
            "rotation_interval_sec": self.rotation_interval_sec,
            "probe_interval_sec": self.rotation_interval_sec,
            "probe_timeout_sec": 1.0,
        }

    def describe(self) -> str:
        return (
            f"dwell {self.min_outer_dwell_sec:g} s, cooldown {self.rotation_cooldown_sec:g} s, "
            f"tick {self.rotation_interval_sec:g} s (defaults 10 s / 5 s / 1 s, shortened "
            "so a healed server can return within the story)"
        )


def huddle_row(
    targets: Sequence[Target],
    timing: EngineTiming,
    on_rotation: Callable[[RotationEvent], None] | None = None,
) -> HuddleRow:
    """huddle_client's side: the bench's Huddle row with the story's timing, not started."""
    return HuddleRow(
        targets, probe_timeout_s=0.8, on_rotation=on_rotation, start=False, **timing.options()
    )


def round_robin_transports(targets: Sequence[Target]) -> Callable[[], httpx.BaseTransport]:
    """The other side: a transport factory over one plain round robin shared by every caller."""
    return partial(PickerTransport, RoundRobin(targets))


class LoadLoop:
    """``callers`` closed-loop callers of one balancer, recording into ``recorder``.

    Each caller sends its next ``GET /demo`` when the last one ends, until the deadline,
    :meth:`stop`, or its share of the request cap. Example::

        loop = LoadLoop(round_robin_transports(targets), recorder, callers=4)
        loop.start(t0=time.perf_counter(), duration=10.0)
        loop.join()
    """

    def __init__(
        self,
        new_transport: Callable[[], httpx.BaseTransport],
        recorder: Recorder,
        *,
        callers: int = 4,
        timeout_s: float = 1.0,
    ) -> None:
        if callers < 1:
            raise ValueError(f"callers must be in [1, 64], got {callers!r}")
        self._new_transport = new_transport
        self.recorder = recorder
        self.callers = callers
        self._timeout = httpx.Timeout(timeout_s)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.errors: list[BaseException] = []

    def start(self, t0: float, duration: float) -> None:
        """Start the callers; ``t0`` is the story's origin on ``time.perf_counter()``."""
        cap = max(1, int(duration * _MAX_RATE_PER_CALLER))
        for k in range(self.callers):
            thread = threading.Thread(
                target=self._call_loop,
                args=(t0, t0 + duration, cap),
                name=f"demo-{self.recorder.name}-{k}",
                daemon=True,
            )
            self._threads.append(thread)
            thread.start()

    def _call_loop(self, t0: float, deadline: float, cap: int) -> None:
        try:
            transport = self._new_transport()
            with httpx.Client(
                transport=transport, base_url="http://backend", timeout=self._timeout
            ) as client:
                call_loop(
                    client,
                    _PATH,
                    t0=t0,
                    deadline=deadline,
                    max_requests=cap,
                    record=self.recorder.add,
                    stop=self._stop,
                )
        except Exception as exc:  # shown in the summary, never silently lost
            self.errors.append(exc)

    def stop(self) -> None:
        """Ask every caller to finish after its current request."""
        self._stop.set()

    def join(self, timeout: float = 10.0) -> None:
        """Wait for the callers (each request is bounded by the timeout, so this is quick)."""
        end = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, end - time.monotonic()))
