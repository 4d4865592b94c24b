"""The temperature formula of the thermal-rotation design: its weights.

``raw`` mixes relative latency (the main signal) with optional resource figures and the
error rate; the temperature is an EMA of ``raw`` (see :meth:`Upstream.observe`, the one
implementation, kept on the upstream so the request path makes a single call). The
reference gave errors a weight of 0.05, so a server answering instant 500s looked *cool*
(fast and barely penalised). We keep the reference's weighted sum and add a floor: ``raw``
is at least ``error_gain * error_rate``, so with the default gain of 2.5 a server failing
a quarter of its calls is as hot as the heat threshold.
"""

from __future__ import annotations

W_ANOMALY = 0.70
W_CPU = 0.10
W_CONN = 0.10
W_MEM = 0.05
W_ERR = 0.05

#: Connections at which the conn term saturates (reference: active / 1000).
CONN_SCALE = 1000.0
