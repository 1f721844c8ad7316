"""Per-second rates from cumulative counters (bytes read, bytes sent, ...)."""

from dataclasses import dataclass


@dataclass(slots=True)
class CounterRate:
    """Turns successive readings of one cumulative counter into a rate per second.

    A counter that went down was reset (a reboot, a driver reload, a NIC that came back): as
    Prometheus does, the new reading is then taken as the increase since the reset, so a reset
    never gives a negative or a huge rate.
    """

    _value: float | None = None
    _at: float = 0.0

    def update(self, value: float, at: float) -> float | None:
        """Record ``value`` read at monotonic time ``at``; return the rate since the last reading.

        None for the first reading, or when no time has passed since the previous one.
        """
        previous, previous_at = self._value, self._at
        self._value, self._at = value, at
        if previous is None or at <= previous_at:
            return None
        increase = value - previous if value >= previous else value
        return increase / (at - previous_at)
