"""``huddle demo``: huddle_client and plain round robin side by side on a live fleet.

A scripted story (normal load, a 5x slow server, a crash, fast 500s, the slow one heals) is
played on six loopback servers while the same callers send through
``HuddleTransport`` and through plain round robin; a rich live view shows the rings, each
server's temperature and latency, the events and the running p95/p99 and failures, and the
run ends with a summary table. Needs the ``httpx``, ``testing`` and ``bench`` extras (rich)::

    pip install "huddle-client[demo]" && huddle demo
"""

from __future__ import annotations

from ._run import DemoConfig, DemoResult, print_summary, run_demo
from ._story import Step, Story, default_story

__all__ = [
    "DemoConfig",
    "DemoResult",
    "Step",
    "Story",
    "default_story",
    "print_summary",
    "run_demo",
]
