"""Access to the built-in rule pack (``rules/pack/*.yaml``, package data)."""

from __future__ import annotations

from importlib import resources

from rules.model import AnyRule, load_rules, merge_rule_sets


def builtin_pack_texts() -> list[tuple[str, str]]:
    """(name, YAML text) of every pack file, sorted by name."""
    pack = resources.files("rules") / "pack"
    return sorted(
        (f"builtin:{entry.name}", entry.read_text(encoding="utf-8"))
        for entry in pack.iterdir()
        if entry.name.endswith(".yaml")
    )


def builtin_pack() -> list[AnyRule]:
    """All built-in rules; RuleError if the pack itself is broken (a release bug)."""
    return merge_rule_sets((name, load_rules(text, name)) for name, text in builtin_pack_texts())
