"""The words of the scenarios, read once: converters pytest-bdd applies to a step's arguments (``converters=``,
``extra_types=``), and to the cells of a data table."""

from __future__ import annotations


def on_off(word: str) -> bool:
    """``on`` or ``off``, as the scenarios say a feature's state."""
    if word not in ("on", "off"):
        raise ValueError(f"expected on or off, not {word!r}")
    return word == "on"


def rings(text: str) -> int | None:
    """A ring count; empty or 0 means none given."""
    return int(text) if text.strip() not in ("", "0") else None


WORDS = {"OnOff": on_off}
