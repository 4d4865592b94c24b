"""Statistics and Markdown: percentiles, mean +/- std, Welch's t-test, tables.

Percentiles interpolate linearly between order statistics (numpy's default method), so a
table can be recomputed from the raw samples with one call. Welch's test (unequal
variances) is the one the reference's tables used to compare balancers across trials.
Only :func:`welch_p` needs scipy, imported when it is called: the demo, which has no scipy,
uses this module's percentiles and tables too.
"""

from __future__ import annotations

import math
import statistics
import warnings
from collections.abc import Iterable, Sequence


def percentiles(values: Sequence[float], qs: Sequence[int]) -> list[float]:
    """The ``qs``-th percentiles (integers in [0, 100]) of ``values``; NaN when there are none.

    Example: ``percentiles(latencies, (50, 95, 99))``.
    """
    for q in qs:
        if isinstance(q, bool) or not isinstance(q, int) or not 0 <= q <= 100:
            raise ValueError(f"q must be an integer in [0, 100], got {q!r}")
    if len(values) == 0:
        return [math.nan for _ in qs]
    if len(values) == 1:
        return [float(values[0]) for _ in qs]
    cuts = [float(min(values)), *statistics.quantiles(values, n=100, method="inclusive")]
    return [float(max(values)) if q == 100 else cuts[q] for q in qs]


def percentile(values: Sequence[float], q: int) -> float:
    """The ``q``-th percentile (an integer in [0, 100]) of ``values``; NaN when there are none."""
    return percentiles(values, (q,))[0]


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; 0.0 for a single value)."""
    if len(values) == 0:
        return math.nan, math.nan
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return statistics.fmean(values), std


def welch_p(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided p-value of Welch's t-test between two samples; NaN when undefined.

    Undefined means fewer than two values on a side; when both sides are constant (the test
    divides by their variances) the answer is 0 if they differ and 1 if not.
    """
    if len(a) < 2 or len(b) < 2:
        return math.nan
    if min(a) == max(a) and min(b) == max(b):
        return 0.0 if a[0] != b[0] else 1.0
    from scipy import stats

    with warnings.catch_warnings():
        # Near-identical trials (every row equal in a fault-free scenario) make scipy warn
        # about precision; the p-value it returns is still the right answer (about 1).
        warnings.simplefilter("ignore", RuntimeWarning)
        result = stats.ttest_ind(list(a), list(b), equal_var=False)
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
