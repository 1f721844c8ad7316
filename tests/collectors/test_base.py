"""Needs: sources read what enabled entities need, everything until the platforms are set up."""

from custom_components.ai_performance.collectors.base import Needs


def test_everything_is_wanted_until_narrowed() -> None:
    needs = Needs()

    assert needs.select("host", ["cpu", "load"]) == {"cpu", "load"}


def test_after_narrowing_only_subscribed_needs_while_subscribed() -> None:
    needs = Needs()
    needs.narrow()
    first = needs.async_subscribe("host", "cpu")
    second = needs.async_subscribe("host", "cpu")
    needs.async_subscribe("gpu", "load")

    assert needs.select("host", ["cpu", "load"]) == {"cpu"}
    first()
    assert needs.select("host", ["cpu", "load"]) == {"cpu"}
    second()
    assert needs.select("host", ["cpu", "load"]) == set()
