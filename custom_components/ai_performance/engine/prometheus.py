"""Prometheus text exposition: read the few series we use, and turn them into KPIs.

A vLLM server exposes hundreds of lines per scrape; we want perhaps a dozen series out of them.
``parse_series`` therefore looks at each line's metric name first and parses labels only for
histogram buckets it was asked for, summing every other wanted series over its label sets (all
models, all finish reasons): the server-wide figure.

Histogram quantiles follow PromQL's ``histogram_quantile`` exactly (linear interpolation inside
the bucket holding the rank, the lower bound of the first bucket taken as 0, and the highest
finite bound returned when the rank falls in the +Inf bucket), applied to the increase of the
buckets between two scrapes, so a quantile describes the requests of the last interval only.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
import math
import re
from typing import Final

BUCKET_SUFFIX: Final = "_bucket"
# One label pair; values may hold escaped quotes.
_LABEL = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')


class ExpositionError(ValueError):
    """The text is not Prometheus exposition format."""


@dataclass(slots=True)
class Series:
    """The wanted series of one scrape, each summed over its label sets.

    ``values`` holds gauges and counters by name; ``buckets`` holds each wanted histogram's
    cumulative bucket counts by upper bound (``le``), keyed by the histogram's base name.
    """

    values: dict[str, float] = field(default_factory=dict)
    buckets: dict[str, dict[float, float]] = field(default_factory=dict)


def _le(labels: str) -> float:
    """Return the ``le`` label of a bucket line's label text."""
    for match in _LABEL.finditer(labels):
        if match.group(1) == "le":
            return float(match.group(2))
    msg = "histogram bucket without an le label"
    raise ExpositionError(msg)


def parse_series(
    text: str, values: Iterable[str], histograms: Iterable[str] = ()
) -> Series:
    """Read the series named in ``values`` and the histograms named in ``histograms``.

    Comments and other series are skipped unread. A line without a name and a value, or a
    wanted sample whose value is not a number, raises ExpositionError (a truncated or garbled
    payload).
    """
    wanted_values = frozenset(values)
    wanted_buckets = {f"{name}{BUCKET_SUFFIX}": name for name in histograms}
    series = Series()
    sums = series.values
    buckets = series.buckets
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        brace = line.find("{")
        space = line.find(" ")
        if brace != -1 and (space == -1 or brace < space):
            name = line[:brace]
            close = line.rfind("}")
            if close < brace:
                msg = f"unterminated labels in {name}"
                raise ExpositionError(msg)
            labels, rest = line[brace + 1 : close], line[close + 1 :]
        else:
            if space == -1:
                msg = f"sample without a value: {line[:60]!r}"
                raise ExpositionError(msg)
            name, labels, rest = line[:space], "", line[space:]
        if name in wanted_values:
            sums[name] = sums.get(name, 0.0) + _value(rest, name)
        elif (base := wanted_buckets.get(name)) is not None:
            le = _le(labels)
            counts = buckets.setdefault(base, {})
            counts[le] = counts.get(le, 0.0) + _value(rest, name)
    return series


type Labelled = dict[str, list[tuple[dict[str, str], float]]]
_ESCAPES: Final = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}
_ESCAPED = re.compile(r"\\[\\\"n]")


def parse_labelled(text: str, names: Iterable[str]) -> Labelled:
    """Return every sample of the series named in ``names``, each with its labels.

    For exporters whose series tell things apart by label (a GPU's UUID, a CPU, a mount):
    ``{name: [(labels, value), ...]}`` in the order of the text. Other lines are skipped after
    reading their name; errors are those of ``parse_series``.
    """
    wanted = frozenset(names)
    samples: Labelled = {}
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        brace = line.find("{")
        space = line.find(" ")
        if brace != -1 and (space == -1 or brace < space):
            name = line[:brace]
            if name not in wanted:
                continue
            close = line.rfind("}")
            if close < brace:
                msg = f"unterminated labels in {name}"
                raise ExpositionError(msg)
            labels = _labels(line[brace + 1 : close])
            rest = line[close + 1 :]
        else:
            if space == -1:
                msg = f"sample without a value: {line[:60]!r}"
                raise ExpositionError(msg)
            name = line[:space]
            if name not in wanted:
                continue
            labels, rest = {}, line[space:]
        samples.setdefault(name, []).append((labels, _value(rest, name)))
    return samples


def _labels(text: str) -> dict[str, str]:
    """Return the label pairs of a sample's label text, unescaped."""
    labels = {}
    for match in _LABEL.finditer(text):
        value = match.group(2)
        if "\\" in value:
            value = _ESCAPED.sub(lambda m: _ESCAPES[m.group(0)], value)
        labels[match.group(1)] = value
    return labels


def _value(rest: str, name: str) -> float:
    """Return the sample value after the name and labels (a timestamp may follow it)."""
    parts = rest.split()
    if not parts:
        msg = f"sample without a value: {name}"
        raise ExpositionError(msg)
    try:
        return float(parts[0])
    except ValueError:
        msg = f"not a number in {name}: {parts[0][:30]!r}"
        raise ExpositionError(msg) from None


def histogram_quantile(q: float, buckets: Mapping[float, float]) -> float | None:
    """Return the ``q`` quantile of cumulative ``buckets`` (upper bound -> count), as PromQL.

    None where PromQL gives NaN: no +Inf bucket, fewer than two buckets, or no observations.
    """
    bounds = sorted(buckets)
    if len(bounds) < 2 or bounds[-1] != math.inf:
        return None
    # PromQL forces the counts to be monotonic (scrapes are not atomic).
    counts: list[float] = []
    highest = 0.0
    for bound in bounds:
        highest = max(highest, buckets[bound])
        counts.append(highest)
    observations = counts[-1]
    if observations <= 0:
        return None
    rank = q * observations
    index = next(i for i, count in enumerate(counts) if count >= rank)
    if index == len(bounds) - 1:
        return bounds[-2]
    if index == 0 and bounds[0] <= 0:
        return bounds[0]
    start, end, in_bucket = 0.0, bounds[index], counts[index]
    if index > 0:
        start = bounds[index - 1]
        in_bucket -= counts[index - 1]
        rank -= counts[index - 1]
    return start + (end - start) * (rank / in_bucket)


def bucket_increase(
    previous: Mapping[float, float] | None, current: Mapping[float, float]
) -> dict[float, float] | None:
    """Return how much each bucket grew between two scrapes; None without a previous one.

    A bucket that shrank means the server restarted: as Prometheus does, the current counts are
    then the increase (everything since the restart). A bucket that appeared counts from 0.
    """
    if previous is None:
        return None
    if any(current[le] < previous.get(le, 0.0) for le in current):
        return dict(current)
    return {le: current[le] - previous.get(le, 0.0) for le in current}


@dataclass(slots=True)
class IntervalQuantiles:
    """p50 / p95 / p99 of one histogram over the interval between its last two scrapes."""

    _previous: dict[float, float] | None = None

    def update(
        self, current: Mapping[float, float] | None
    ) -> tuple[float | None, float | None, float | None]:
        """Take a scrape's buckets (None: the series is missing); return the quantiles."""
        if current is None:
            self._previous = None
            return None, None, None
        increase = bucket_increase(self._previous, current)
        self._previous = dict(current)
        if increase is None:
            return None, None, None
        return (
            histogram_quantile(0.5, increase),
            histogram_quantile(0.95, increase),
            histogram_quantile(0.99, increase),
        )
