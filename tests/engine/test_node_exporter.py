"""node_exporter's text read into a host's figures: a real scrape, and what federation adds."""

from prometheus_client.parser import text_string_to_metric_families
import pytest

from custom_components.ai_performance.engine.node_exporter import (
    MAX_FILE_SYSTEMS,
    NotNodeExporterError,
    SeveralMachinesError,
    parse_node,
)

from ..servers.fake_servers import fixture_text


def _value(text: str, name: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                return float(sample.value)
    raise AssertionError(name)


def test_a_real_scrape_gives_node_exporters_own_figures() -> None:
    text = fixture_text("node_exporter.txt")

    reading = parse_node(text)

    total = _value(text, "node_memory_MemTotal_bytes")
    available = _value(text, "node_memory_MemAvailable_bytes")
    assert reading.memory_percent == round((total - available) / total * 100, 1)
    assert reading.load == (
        _value(text, "node_load1"),
        _value(text, "node_load5"),
        _value(text, "node_load15"),
    )
    assert list(reading.cpus) == ["0", "1"]
    # /run and other memory file systems are not disks.
    assert list(reading.file_systems) == ["/"]
    assert reading.hostname == "vm"
    assert reading.version == "1.5.0"
    # node_exporter's own answer is of now: no scrape time of Prometheus's.
    assert reading.scraped_at is None


def test_federation_gives_the_scrape_time_and_refuses_several_machines() -> None:
    one = (
        'node_memory_MemTotal_bytes{instance="a:9100",job="node"} 1000 1764600000123\n'
        'node_memory_MemAvailable_bytes{instance="a:9100",job="node"} 250 1764600000123\n'
    )
    assert parse_node(one).scraped_at == 1764600000.123
    assert parse_node(one).memory_percent == 75.0

    two = one + one.replace("a:9100", "b:9100")
    with pytest.raises(SeveralMachinesError, match="2 machines"):
        parse_node(two)


def test_another_exporters_text_is_not_node_exporters() -> None:
    with pytest.raises(NotNodeExporterError):
        parse_node(fixture_text("vllm_metrics.txt"))


def test_file_systems_are_bounded_largest_first() -> None:
    lines = [
        f'node_filesystem_{kind}_bytes{{device="d{i}",fstype="ext4",mountpoint="/m{i}"}} '
        f"{(i + 1) * (1000 if kind == 'size' else 100)}"
        for i in range(MAX_FILE_SYSTEMS + 4)
        for kind in ("size", "free", "avail")
    ]
    text = "node_load1 0\n" + "\n".join(lines) + "\n"

    systems = parse_node(text).file_systems

    assert len(systems) == MAX_FILE_SYSTEMS
    assert "/m0" not in systems  # the smallest ones are left out
    assert f"/m{MAX_FILE_SYSTEMS + 3}" in systems
