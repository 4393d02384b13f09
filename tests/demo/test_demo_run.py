"""`logwatch demo` end to end: live traffic, the real daemon, alerts that fire and resolve,
a report that matches what was written, and a stop by itself."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path


def test_demo_fires_and_resolves_both_incidents_and_stops_by_itself(tmp_path: Path) -> None:
    env = dict(os.environ, LOGWATCH_METRICS__PROMETHEUS__LISTEN="127.0.0.1:0")
    started = time.monotonic()
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("logwatch")),
            "demo",
            "--duration",
            "30",
            "--rate",
            "15",
            "--metrics-listen",
            "127.0.0.1:0",
            "--dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr[-2000:]
    assert elapsed < 90
    out = done.stdout
    for status in ("FIRING", "RESOLVED"):
        assert re.search(rf"^{status} warning RateLimited .*scope=local", out, re.M), out
        assert re.search(
            rf"^{status} critical CircuitBreakerOpen .*httproute/default/ratings/rule/0", out, re.M
        ), out
    # each alert is notified once firing and once resolved
    assert len(re.findall(r"^FIRING ", out, re.M)) == 2
    assert len(re.findall(r"^RESOLVED ", out, re.M)) == 2
    assert "origin: circuit_breaker at waypoint waypoint-7cc857d87b-8kv2z" in out

    written = re.search(
        r"wrote (\d+) requests: (\d+) rate limited, (\d+) hit the open circuit breaker", done.stderr
    )
    assert written, done.stderr[-2000:]
    requests, limited, overflowed = map(int, written.groups())
    assert limited > 0 and overflowed > 0
    # the closing report counts exactly what the mesh wrote
    assert re.search(rf"^rate_limited\s+{limited}$", out, re.M)
    assert re.search(rf"^circuit_breaker\s+{overflowed}$", out, re.M)
    ingress = re.search(
        r"^httproute/default/ingress-bookinfo/rule/0/match/0/\*\s+(\d+)\s+(\d+)", out, re.M
    )
    assert ingress and int(ingress.group(1)) == requests and int(ingress.group(2)) == limited
    assert (tmp_path / "state").is_dir() and list((tmp_path / "pods").rglob("0.log"))
