"""PSI parsing."""

from custom_components.ai_performance.engine.pressure import some_avg10


def test_reads_some_avg10() -> None:
    text = (
        "some avg10=1.53 avg60=0.87 avg300=0.20 total=51725146\n"
        "full avg10=0.40 avg60=0.00 avg300=0.00 total=0\n"
    )

    assert some_avg10(text) == 1.53


def test_cpu_pressure_of_older_kernels_has_only_some() -> None:
    assert some_avg10("some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n") == 0.0


def test_unexpected_text_gives_none() -> None:
    assert some_avg10("") is None
    assert some_avg10("full avg10=2.0\n") is None
    assert some_avg10("some avg10=n/a\n") is None
