"""Which rules run: the built-in pack and the configured rule files."""

from __future__ import annotations

import glob
from pathlib import Path

from logwatch.alerts.config import AlertsConfig
from rules.builtin import builtin_pack_texts
from rules.model import AnyRule, RuleError, load_rules, merge_rule_sets


def read_rule_file(path: Path) -> list[AnyRule]:
    """Load one file; RuleError (naming the file) when unreadable or invalid."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RuleError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise RuleError(f"{path}: not UTF-8 text") from None
    return load_rules(text, str(path))


def expand(patterns: tuple[str, ...]) -> list[Path]:
    """Paths of ``patterns`` (globs expanded, sorted); a pattern matching nothing is kept as
    a path so that reading it reports the missing file."""
    out: list[Path] = []
    for pattern in patterns:
        hits = sorted(glob.glob(pattern))
        out.extend(Path(h) for h in hits) if hits else out.append(Path(pattern))
    return out


def configured_rules(config: AlertsConfig) -> list[AnyRule]:
    """The pack (unless disabled) plus rule files, minus ``disabled_rules``.

    Raises RuleError listing every problem (all files are checked before failing)."""
    sets: list[tuple[str, list[AnyRule]]] = []
    problems: list[str] = []
    if config.use_builtin_pack:
        sets.extend((name, load_rules(text, name)) for name, text in builtin_pack_texts())
    for path in expand(config.rule_files):
        try:
            sets.append((str(path), read_rule_file(path)))
        except RuleError as exc:
            problems.append(str(exc))
    if problems:
        raise RuleError("\n".join(problems))
    rules = merge_rule_sets(sets)
    unknown = set(config.disabled_rules) - {r.name for r in rules}
    if unknown:
        raise RuleError(f"disabled_rules: no rule named {', '.join(sorted(unknown))}")
    return [r for r in rules if r.name not in set(config.disabled_rules)]
