"""The benchmarks' files: none shadows a package, each has its results, smoke mode writes aside.

`python benchmarks/NAME.py` puts benchmarks/ first on sys.path, so a benchmark named like an
installed package (requests.py) was imported in its place by whatever imported that package
(pycognito, through Home Assistant), and ./scripts/bench host crashed on a fresh venv.
"""

from importlib.machinery import PathFinder
from importlib.metadata import packages_distributions
from pathlib import Path
import sys

import pytest

from benchmarks.smoke import SCRATCH_ENV, SMOKE_ENV, output, size

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"


def _installed(name: str) -> bool:
    """Return whether ``name`` is a top-level module of Python or of an installed package."""
    ours = {ROOT, BENCHMARKS}
    outside = [p for p in sys.path if p and Path(p).resolve() not in ours]
    return (
        name in sys.stdlib_module_names
        or name in sys.builtin_module_names
        or name in packages_distributions()
        or PathFinder.find_spec(name, outside) is not None
    )


def test_no_benchmark_module_shadows_an_installed_package() -> None:
    names = ["benchmarks", *sorted(p.stem for p in BENCHMARKS.glob("*.py"))]

    assert [name for name in names if _installed(name)] == []


def test_the_check_finds_a_shadowing_name() -> None:
    assert _installed("requests")
    assert _installed("json")
    assert not _installed("bench_requests")


def test_every_benchmark_has_its_committed_results() -> None:
    benchmarks = {p.stem.removeprefix("bench_") for p in BENCHMARKS.glob("bench_*.py")}
    results = {p.stem for p in (BENCHMARKS / "results").glob("*.json")}

    assert benchmarks == results


def test_smoke_mode_writes_into_the_scratch_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    committed = BENCHMARKS / "results" / "host.json"
    monkeypatch.setenv(SMOKE_ENV, "1")
    monkeypatch.setenv(SCRATCH_ENV, str(tmp_path / "scratch"))

    assert output(committed) == tmp_path / "scratch" / "host.json"
    assert (tmp_path / "scratch").is_dir()
    assert size(500, 20) == 20


def test_a_full_run_writes_the_committed_results(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    committed = BENCHMARKS / "results" / "host.json"
    monkeypatch.delenv(SMOKE_ENV, raising=False)

    assert output(committed) == committed
    assert size(500, 20) == 500
