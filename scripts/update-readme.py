#!/usr/bin/env python3
"""Regenerate the reference tables in README.md from the code (config keys, metrics).

Usage: .venv/bin/python scripts/update-readme.py
"""

from __future__ import annotations

from pathlib import Path

from logwatch.reference import render_readme

README = Path(__file__).resolve().parent.parent / "README.md"

if __name__ == "__main__":
    README.write_text(render_readme(README.read_text()))
