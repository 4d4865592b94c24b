"""The engine on its own: three upstreams, one turns slow, the cluster rests it.

No network: latencies are simulated, so this runs anywhere in about a second.
Run: python examples/engine_basics.py
"""

from __future__ import annotations

import random

from huddle_client import create_cluster


def main() -> None:
    rng = random.Random(7)
    cluster = create_cluster(
        ["http://127.0.0.1:9001", "http://127.0.0.1:9002", "http://127.0.0.1:9003"],
        min_inner_size=2,
        on_rotation=lambda e: print(f"  event: {e.server_id} {e.direction} ({e.reason})"),
    )
    slow = "127.0.0.1:9002"
    counts: dict[str, int] = {}
    for i in range(600):
        up = cluster.get_server()
        counts[up.id] = counts.get(up.id, 0) + 1
        base = 20.0 * (5.0 if up.id == slow and i >= 200 else 1.0)
        cluster.record_latency(up, base * rng.uniform(0.9, 1.1))
        if i % 50 == 49:
            cluster.rotate()
    report = cluster.health_report()
    print("inner ring:", [s["id"] for s in report["inner_ring"]])
    print("outer ring:", [s["id"] for s in report["outer_ring"]])
    print("requests per upstream:", counts)


if __name__ == "__main__":
    main()
