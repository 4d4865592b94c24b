"""httpx through huddle_client: four real upstreams on loopback; one turns slow, one crashes.

The client talks to the logical host ``http://backend``; HuddleTransport sends each call to
the upstream the cluster picks. A slow upstream is rested; a crashed one costs no request
(the refused connection is retried elsewhere and the server ejected at once), and once it
heals the HTTP probe gives the cluster the evidence to bring it back.
Run: python examples/httpx_client.py   (needs huddle-client[httpx,testing]; about 3 s)
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import httpx
from huddle_client.integrations.httpx import AsyncHuddleTransport, HTTPProbe, HuddleTransport

from huddle_client import create_cluster
from huddle_client.testing import UpstreamFleet


def served_by(client: httpx.Client, n: int) -> Counter[str]:
    """Send n GETs and count which fleet server answered each."""
    counts: Counter[str] = Counter()
    for i in range(n):
        response = client.get(f"/users/{i}")
        response.raise_for_status()
        counts[response.json()["server"]] += 1
    return counts


async def served_by_async(transport: AsyncHuddleTransport, n: int) -> Counter[str]:
    async with httpx.AsyncClient(transport=transport, base_url="http://backend") as client:
        responses = await asyncio.gather(*(client.get(f"/items/{i}") for i in range(n)))
    return Counter(r.json()["server"] for r in responses)


def show(label: str, counts: Counter[str]) -> None:
    print(f"{label:<22}", dict(sorted(counts.items())))


def main() -> None:
    with (
        UpstreamFleet(n=4, base_latency_ms=5.0, jitter_ms=0.5, seed=1) as fleet,
        HTTPProbe(path="/health", timeout=0.5) as probe,
    ):
        # Short dwell and cooldown so the demo moves in seconds; production keeps the defaults.
        cluster = create_cluster(
            fleet.urls,
            probe=probe,
            rotation_interval_sec=0.1,
            rotation_cooldown_sec=0.2,
            min_outer_dwell_sec=0.5,
            probe_interval_sec=0.1,
        )
        with (
            cluster,
            httpx.Client(transport=HuddleTransport(cluster), base_url="http://backend") as client,
        ):
            show("all healthy:", served_by(client, 40))
            fleet[1].slow(10.0)
            show("s1 ten times slower:", served_by(client, 40))
            fleet[0].crash()
            show("s0 crashed:", served_by(client, 40))
            fleet[0].recover()
            deadline = time.monotonic() + 10.0
            s0 = next(up for up in cluster.all_servers() if up.port == fleet[0].port)
            while s0 not in cluster.inner_servers() and time.monotonic() < deadline:
                served_by(client, 4)
            show("s0 healed, probed in:", served_by(client, 40))
            transport = AsyncHuddleTransport(cluster)
            show("50 async at once:", asyncio.run(served_by_async(transport, 50)))


if __name__ == "__main__":
    main()
