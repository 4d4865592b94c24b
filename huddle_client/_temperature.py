"""The temperature formula of the thermal-rotation design.

``raw`` mixes relative latency (the main signal) with optional resource figures and the
error rate; the temperature is an EMA of ``raw``. The reference gave errors a weight of 0.05,
so a server answering instant 500s looked *cool* (fast and barely penalised). We keep the
reference's weighted sum and add a floor: ``raw`` is at least ``error_gain * error_rate``,
so with the default gain a server failing 40% of its calls is as hot as one 3x slower than
its peers.
"""

from __future__ import annotations

W_ANOMALY = 0.70
W_CPU = 0.10
W_CONN = 0.10
W_MEM = 0.05
W_ERR = 0.05

#: Connections at which the conn term saturates (reference: active / 1000).
CONN_SCALE = 1000.0


def anomaly(avg_ms: float, baseline_ms: float) -> float:
    """Relative slowness: 1x the baseline gives 0, 2x gives 0.5, 3x and more give 1."""
    if baseline_ms <= 0.0 or avg_ms <= 0.0:
        return 0.0
    score = (avg_ms / baseline_ms - 1.0) / 2.0
    return 0.0 if score < 0.0 else (1.0 if score > 1.0 else score)


def raw_score(
    anomaly_score: float,
    cpu: float,
    connections: int,
    mem: float,
    error_rate: float,
    error_gain: float,
) -> float:
    """The unsmoothed heat of one server, in [0, 1]."""
    conn = connections / CONN_SCALE
    if conn > 1.0:
        conn = 1.0
    raw = W_ANOMALY * anomaly_score + W_CPU * cpu + W_CONN * conn + W_MEM * mem + W_ERR * error_rate
    floor = error_gain * error_rate
    if floor > raw:
        raw = floor
    return 0.0 if raw < 0.0 else (1.0 if raw > 1.0 else raw)
