#!/usr/bin/env python3
"""Render the plain Kubernetes manifests under deploy/kubernetes/ from the Helm chart, so
there is one source of truth. A test checks the committed files match this rendering.

Usage: .venv/bin/python scripts/render-manifests.py [--check]
"""

from __future__ import annotations

import sys
from pathlib import Path

import helm_python

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "deploy" / "helm" / "logwatch"
OUT = ROOT / "deploy" / "kubernetes"
HEADER = "# Rendered from deploy/helm/logwatch by scripts/render-manifests.py: edit the chart.\n"

# mode directory -> chart values for that mode
MODES: dict[str, dict[str, object]] = {
    "node": {"mode": "node", "serviceMonitor": {"enabled": True}},
    "kafka": {"mode": "kafka", "serviceMonitor": {"enabled": True}},
}


def render(mode: str) -> dict[str, str]:
    chart = helm_python.Chart.load(str(CHART))
    manifests = chart.render(values=MODES[mode], name="logwatch", namespace="logwatch")
    files: dict[str, str] = {}
    for template, text in sorted(manifests.items()):
        body = text.strip()
        if not body or template.endswith("NOTES.txt"):
            continue
        files[Path(template).name] = HEADER + body + "\n"
    return files


def main() -> int:
    check = "--check" in sys.argv[1:]
    stale = []
    for mode in MODES:
        target = OUT / mode
        files = render(mode)
        if check:
            present = {p.name for p in target.glob("*.yaml")}
            if present != set(files):
                stale.append(f"{mode}: files {sorted(present)} != {sorted(files)}")
            for name, text in files.items():
                path = target / name
                if path.exists() and path.read_text() != text:
                    stale.append(f"{mode}/{name} differs")
            continue
        target.mkdir(parents=True, exist_ok=True)
        for old in target.glob("*.yaml"):
            old.unlink()
        for name, text in files.items():
            (target / name).write_text(text)
    if stale:
        print("deploy/kubernetes is stale; run scripts/render-manifests.py:\n  " + "\n  ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
