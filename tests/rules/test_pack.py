from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from logwatch.alerts.backtest import backtest
from logwatch.cli.main import main
from rules.builtin import builtin_pack

FIXTURES = Path(__file__).parent.parent / "fixtures"


def test_builtin_pack_loads_with_documented_rules() -> None:
    names = {r.name for r in builtin_pack()}
    assert names == {
        "RateLimited",
        "RateLimitServiceError",
        "CircuitBreakerOpen",
        "NoHealthyUpstream",
        "HighErrorRatio",
        "PolicyDenied",
        "RequestAuthzDenied",
        "HBONEConnectFailure",
        "LogsStopped",
        "ParseErrors",
    }
    readme = (Path(__file__).parent.parent.parent / "rules" / "pack" / "README.md").read_text()
    assert all(f"| {name} |" in readme for name in names)


def test_builtin_pack_fires_on_fixture_lines_in_a_backtest() -> None:
    result = backtest(
        [str(FIXTURES / "envoy-gateway.jsonl"), str(FIXTURES / "istio-text.log")], builtin_pack()
    )
    fired = {
        (a["rule"], a["labels"].get("scope", ""), a["labels"].get("upstream_cluster", ""))
        for a in result.alerts
    }
    ingress_cluster = "httproute/default/ingress-bookinfo/rule/0"
    assert ("RateLimited", "global", "") in fired  # request_rate_limited
    assert ("RateLimited", "local", "") in fired  # local_rate_limited
    assert ("CircuitBreakerOpen", "", ingress_cluster) in fired  # UO line 13
    assert ("NoHealthyUpstream", "", ingress_cluster) in fired  # UH line 6
    waypoint = "inbound-vip|9080|http|reviews.default.svc.cluster.local"
    assert ("CircuitBreakerOpen", "", waypoint) in fired  # Istio waypoint UO
    assert all(a["ends_at"] is not None for a in result.alerts)  # quiet after the logs end
    # every episode notified as firing and as resolved (default route: console)
    statuses = [n.status for n in result.notifications]
    assert statuses.count("resolved") >= 1 and statuses.count("firing") >= 1
    assert not any(a["rule"] == "LogsStopped" for a in result.alerts)


def test_rules_check_cli(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(main, ["rules", "check", "--builtin"])
    assert ok.exit_code == 0, ok.output
    assert "RateLimited: threshold >= 1 records in 1m by route_name,scope,role" in ok.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - {name: Broken, kind: ratio, ratio: 0.1}\n")
    failed = runner.invoke(main, ["rules", "check", str(bad)])
    assert failed.exit_code == 1
    assert f"{bad}: rule 'Broken': matching: Field required" in failed.output
    missing = runner.invoke(main, ["rules", "check", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 1 and "cannot read" in missing.output


def test_rules_test_cli_prints_fired_and_resolved(tmp_path: Path) -> None:
    rules = tmp_path / "rl.yaml"
    rules.write_text(
        "rules:\n  - name: AnyRateLimit\n    kind: threshold\n    where: {signals: rate_limited}\n"
        "    threshold: 1\n    window: 1m\n"
    )
    runner = CliRunner()
    out = runner.invoke(
        main, ["rules", "test", str(rules), "--logs", str(FIXTURES / "envoy-gateway.jsonl")]
    )
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert any(
        "FIRING" in line and "AnyRateLimit" in line and line.startswith("2025-07-18T03:41:03")
        for line in lines
    )
    assert any("RESOLVED" in line and "AnyRateLimit" in line for line in lines)
    as_json = runner.invoke(
        main,
        [
            "rules",
            "test",
            str(rules),
            "--output",
            "json",
            "--logs",
            str(FIXTURES / "envoy-gateway.jsonl"),
        ],
    )
    assert as_json.exit_code == 0 and '"rule": "AnyRateLimit"' in as_json.output


def test_rules_test_cli_reports_unreadable_logs(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["rules", "test", "--builtin", "--logs", str(tmp_path / "missing.log")]
    )
    assert result.exit_code == 1 and "cannot read logs" in result.output
