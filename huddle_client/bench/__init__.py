"""The benchmark machinery behind ``huddle bench`` and ``benchmarks/scenarios.py``.

Every contender (huddle_client's HuddleTransport, the textbook balancers, the reference
package, a healthy-only oracle, nginx and HAProxy) is driven through the same httpx client
path by the same closed-loop load generator, against the same fleet of loopback servers, so
the tables compare like with like. This package needs the ``bench`` extra
(``pip install "huddle-client[bench]"``); ``import huddle_client`` never imports it.
"""

from __future__ import annotations
