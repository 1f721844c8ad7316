"""The words users read: one spelling (Home Assistant's US English), and docs whose links work."""

from collections.abc import Iterator
import json
from pathlib import Path
import re

import pytest

from custom_components.ai_performance.const import DOMAIN

ROOT = Path(__file__).parent.parent
PACKAGE = ROOT / "custom_components" / DOMAIN
# Everything a user reads as text: the UI's strings, the actions, the docs and the blueprints.
USER_TEXT = (
    PACKAGE / "translations" / "en.json",
    PACKAGE / "services.yaml",
    ROOT / "README.md",
    *sorted((ROOT / "docs").rglob("*.md")),
    *sorted((ROOT / "blueprints").rglob("*.yaml")),
)
# British spellings, and the US ones Home Assistant writes instead.
BRITISH = re.compile(
    r"\b(optimis|quantis|utilis|initialis|normalis|prioritis|summaris|behaviour|colour"
    r"|labelled)",
    re.IGNORECASE,
)
# A Markdown link to a file of this repository, with an optional anchor.
LINK = re.compile(r"\]\((?!https?:|mailto:)([^)#\s]*)(?:#([^)\s]+))?\)")


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    yield from enumerate(path.read_text(encoding="utf-8").splitlines(), 1)


def test_user_text_spells_the_us_english_way() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {match.group(0)}"
        for path in USER_TEXT
        for number, line in _lines(path)
        for match in BRITISH.finditer(line)
    ]

    assert found == []


def _strings(node: object, key: str = "") -> Iterator[tuple[str, str]]:
    """Yield every string of the translations with its dotted key."""
    if isinstance(node, dict):
        for name, child in node.items():
            yield from _strings(child, f"{key}.{name}" if key else name)
    elif isinstance(node, str):
        yield key, node


STRINGS = dict(
    _strings(json.loads((PACKAGE / "translations" / "en.json").read_text("utf-8")))
)


def test_no_article_stands_before_a_placeholder() -> None:
    """Whether "a" or "an" fits depends on the word put in ("an input", "an output")."""
    found = [key for key, text in STRINGS.items() if re.search(r"\b(a|an) \{", text)]

    assert found == []


def test_each_alert_issue_title_has_a_singular_subject() -> None:
    """ "X of {name} has been critical": X is one figure, not "hits"."""
    subjects = {
        key: text.split(" of {name} ", 1)[0]
        for key, text in STRINGS.items()
        if key.startswith("issues.alert_") and key.endswith(".title")
    }

    assert subjects
    assert [key for key, subject in subjects.items() if subject.endswith("s")] == []


def test_keep_alive_is_one_hyphenated_word() -> None:
    """As the Set keep-alive action names it."""
    found = [key for key, text in STRINGS.items() if "keep alive" in text.lower()]

    assert found == []


@pytest.mark.parametrize("kind", ["ollama", "openai_compatible", "prometheus"])
def test_a_server_forms_title_is_the_menu_entry_that_opens_it(kind: str) -> None:
    section = f"config_subentries.{kind}"
    for step in ("user", "reconfigure"):
        assert (
            STRINGS[f"{section}.step.{step}.title"]
            == (STRINGS[f"{section}.initiate_flow.{step}"])
        )


def _anchor(heading: str) -> str:
    """Return the anchor GitHub gives a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    return {
        _anchor(line.lstrip("#"))
        for _, line in _lines(path)
        if re.match(r"#{1,6} ", line)
    }


@pytest.mark.parametrize(
    "path",
    [p for p in USER_TEXT if p.suffix == ".md"],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_every_link_of_the_docs_leads_to_a_file_and_heading(path: Path) -> None:
    broken = []
    for number, line in _lines(path):
        for target, anchor in LINK.findall(line):
            linked = (path.parent / target).resolve() if target else path
            if not linked.exists():
                broken.append(f"{number}: {target}")
            elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
                broken.append(f"{number}: {target}#{anchor}")

    assert broken == []


def test_the_spelling_check_finds_british_words() -> None:
    assert BRITISH.findall("Auto-optimisation, quantisations; optimization") == [
        "optimis",
        "quantis",
    ]
