"""Linux pressure stall information (PSI): the share of time tasks waited for a resource."""


def some_avg10(text: str) -> float | None:
    """Return the ``some avg10`` figure (%) of a /proc/pressure/<resource> file's text.

    "some" is the share of the last 10 s in which at least one task was stalled on the resource.
    None when the text has no such figure (an unexpected kernel format).
    """
    for line in text.splitlines():
        kind, _, fields = line.partition(" ")
        if kind != "some":
            continue
        for field in fields.split():
            name, _, value = field.partition("=")
            if name == "avg10":
                try:
                    return float(value)
                except ValueError:
                    return None
    return None
