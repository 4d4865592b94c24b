"""Statistics and Markdown: percentiles, mean +/- std, Welch's t-test, tables.

Percentiles use numpy's default (linear) method, so a table can be recomputed from the raw
samples with one call. Welch's test (unequal variances) is the one the reference's tables
used to compare balancers across trials.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence

import numpy as np
from scipy import stats


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values``; NaN when there are none."""
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"q must be in [0, 100], got {q!r}")
    if len(values) == 0:
        return math.nan
    return float(np.percentile(np.asarray(values, dtype=float), q))


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; 0.0 for a single value)."""
    if len(values) == 0:
        return math.nan, math.nan
    arr = np.asarray(values, dtype=float)
    std = float(arr.std(ddof=1)) if len(arr) > 1 else 0.0
    return float(arr.mean()), std


def welch_p(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided p-value of Welch's t-test between two samples; NaN when undefined.

    Undefined means fewer than two values on a side, or both sides constant (the test
    divides by their variances).
    """
    if len(a) < 2 or len(b) < 2:
        return math.nan
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if xa.std() == 0.0 and xb.std() == 0.0:
        return 0.0 if xa.mean() != xb.mean() else 1.0
    with warnings.catch_warnings():
        # Near-identical trials (every row equal in a fault-free scenario) make scipy warn
        # about precision; the p-value it returns is still the right answer (about 1).
        warnings.simplefilter("ignore", RuntimeWarning)
        result = stats.ttest_ind(xa, xb, equal_var=False)
    return float(result.pvalue)


def fmt_ms(value: float) -> str:
    """Milliseconds for a table cell: one decimal, '-' for NaN."""
    return "-" if math.isnan(value) else f"{value:.1f}"


def fmt_mean_std(values: Sequence[float]) -> str:
    """'mean +/- std' in milliseconds for a table cell."""
    mean, std = mean_std(values)
    return "-" if math.isnan(mean) else f"{mean:.1f} ± {std:.1f}"


def fmt_p(p: float) -> str:
    """A p-value for a table cell."""
    if math.isnan(p):
        return "-"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table; every cell is str()-ed, pipes escaped."""
    head = [str(h) for h in headers]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for row in rows:
        cells = [str(c).replace("|", "\\|") for c in row]
        if len(cells) != len(head):
            raise ValueError(f"a row has {len(cells)} cells, the header {len(head)}: {cells!r}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def parse_markdown_tables(text: str) -> list[list[dict[str, str]]]:
    """Read back every table in ``text``, each as a list of {header: cell} dicts."""
    blocks: list[list[str]] = []
    current: list[str] = []
    for line in [*text.splitlines(), ""]:
        if line.strip().startswith("|"):
            current.append(line.strip())
        elif current:
            blocks.append(current)
            current = []
    tables = []
    for lines in blocks:
        if len(lines) < 2:
            raise ValueError(f"a table needs a header and a rule line, got {lines!r}")
        headers = [c.strip() for c in lines[0].strip("|").split("|")]
        rows = []
        for line in lines[2:]:
            cells = [c.strip() for c in line.strip("|").split("|")]
            if len(cells) != len(headers):
                raise ValueError(f"row {line!r} does not match the header {headers!r}")
            rows.append(dict(zip(headers, cells, strict=True)))
        tables.append(rows)
    return tables


def parse_markdown_table(text: str) -> list[dict[str, str]]:
    """Read back the first table in ``text`` as a list of {header: cell} dicts."""
    tables = parse_markdown_tables(text)
    if not tables:
        raise ValueError("no Markdown table found")
    return tables[0]
