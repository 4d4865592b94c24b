"""requests, balanced: one Session, three real upstreams on loopback, one of them crashing.

Starts an UpstreamFleet (three HTTP servers on 127.0.0.1), mounts HuddleAdapter on the logical
name ``http://backend/`` and shows that calls are spread, that a crashed upstream costs the
caller nothing (not even a POST), and what the caller sees when every upstream is down.
Run: python examples/requests_client.py   (needs the requests and testing extras)
"""

from __future__ import annotations

from collections import Counter

import requests
from huddle_client.integrations.requests import HuddleAdapter, NoUpstreamError

from huddle_client import create_cluster
from huddle_client.testing import UpstreamFleet


def main() -> None:
    with UpstreamFleet(n=3, base_latency_ms=5.0) as fleet:
        cluster = create_cluster(fleet.urls)
        with cluster:
            session = requests.Session()
            session.trust_env = False  # loopback only: no proxy from the environment
            session.mount("http://backend/", HuddleAdapter(cluster))

            answer = session.get("http://backend/users/1", timeout=2).json()
            print(f"GET /users/1 -> {answer['server']} saw {answer['path']}")

            spread = Counter(
                session.get("http://backend/items", timeout=2).json()["server"] for _ in range(30)
            )
            print("30 GETs spread over:", dict(sorted(spread.items())))

            fleet[0].crash()
            statuses = Counter(
                session.post("http://backend/orders", json={"n": i}, timeout=2).status_code
                for i in range(10)
            )
            print(f"s0 crashed; 10 POSTs -> {dict(statuses)}, ", end="")
            print(f"received upstream: {fleet.total_received('POST', '/orders')}")

            fleet[1].crash()
            fleet[2].crash()
            try:
                session.get("http://backend/users/1", timeout=2)
            except NoUpstreamError as exc:
                print(f"all down -> NoUpstreamError: {exc}")


if __name__ == "__main__":
    main()
