"""What users give us, checked the same way everywhere: forms, actions and stored options.

Numbers must be finite: NaN or an infinity typed into a form (or as the text "nan" or "-inf") is
refused on its field, and one stored by an earlier version is dropped back to its default at
setup, so that the entry always sets up. A refused value is echoed, in an error or a log line,
only as a short prefix: a huge value never gives a huge message.
"""

from collections.abc import Iterable, Mapping
import math
from typing import Any, Final

# How many characters of a refused value an error message or a log line shows.
ECHO_CHARS: Final = 60
# The translation key of a number that is NaN or infinite, in every flow.
ERROR_NOT_FINITE: Final = "number_not_finite"


def shorten(text: str, limit: int = ECHO_CHARS) -> str:
    """Return ``text`` cut to its first ``limit`` characters, with "…" when it was longer."""
    return text if len(text) <= limit else f"{text[:limit]}…"


def is_finite_number(value: Any) -> bool:
    """Return whether ``value`` is an int or a float (not a bool) that is neither NaN nor ±inf."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def not_finite_fields(user_input: Mapping[str, Any]) -> list[str]:
    """Return the fields of a form whose number is NaN or infinite.

    A number box turns any text Python reads as a float into one, "nan" and "-inf" too.
    """
    return [
        field
        for field, value in user_input.items()
        if isinstance(value, float) and not math.isfinite(value)
    ]


def finite_only(values: Mapping[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """Return ``values`` without those of ``fields`` that are not finite numbers.

    A dropped field falls back to its default wherever it is read.
    """
    wanted = set(fields)
    return {
        key: value
        for key, value in values.items()
        if key not in wanted or is_finite_number(value)
    }
