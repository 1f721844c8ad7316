"""The smoke mode every benchmark has: ./scripts/bench --smoke, run by ./scripts/test.

With AIP_BENCH_SMOKE=1 a benchmark runs every one of its code paths at small sizes, in seconds, so
that a broken benchmark fails the checks; its figures mean nothing. It then writes what it would
write (its results, a screenshot) into AIP_BENCH_RESULTS, a scratch folder (by default one in the
system's temporary directory), never over the committed benchmarks/results/NAME.json.
"""

import os
from pathlib import Path
import tempfile

SMOKE_ENV = "AIP_BENCH_SMOKE"
SCRATCH_ENV = "AIP_BENCH_RESULTS"


def smoke() -> bool:
    """Return whether the benchmark runs in smoke mode."""
    return os.environ.get(SMOKE_ENV) == "1"


def size[T](full: T, smoke_size: T) -> T:
    """Return ``full``, or ``smoke_size`` in smoke mode."""
    return smoke_size if smoke() else full


def output(path: Path) -> Path:
    """Return where to write ``path``: itself, or in smoke mode its name in the scratch folder."""
    if not smoke():
        return path
    scratch = Path(
        os.environ.get(SCRATCH_ENV)
        or Path(tempfile.gettempdir()) / "ai_performance-bench-smoke"
    )
    scratch.mkdir(parents=True, exist_ok=True)
    return scratch / path.name
