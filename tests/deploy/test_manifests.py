"""The shipped manifests and the Helm chart are valid Kubernetes objects, least-privileged,
in sync with each other, and carry config that logwatch itself accepts."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

import helm_python
import jsonschema
import kubernetes_validate
import pytest
import yaml
from click.testing import CliRunner

from logwatch.cli.main import main as cli
from logwatch.config import load_config

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "logwatch"
KUBE_VERSION = "1.30.0"

# The fields of monitoring.coreos.com/v1 ServiceMonitor that the chart uses, as the Prometheus
# Operator's CRD defines them (the CRD is not a core type, so kubernetes-validate has no schema).
SERVICE_MONITOR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {
            "type": "object",
            "required": ["selector", "endpoints"],
            "additionalProperties": False,
            "properties": {
                "selector": {
                    "type": "object",
                    "properties": {
                        "matchLabels": {
                            "type": "object",
                            "additionalProperties": {"type": "string"},
                        }
                    },
                },
                "namespaceSelector": {
                    "type": "object",
                    "properties": {
                        "any": {"type": "boolean"},
                        "matchNames": {"type": "array", "items": {"type": "string"}},
                    },
                    "additionalProperties": False,
                },
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "port": {"type": "string"},
                            "path": {"type": "string"},
                            "interval": {
                                "type": "string",
                                "pattern": "^(0|(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$",
                            },
                            "relabelings": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "properties": {
                                        "sourceLabels": {
                                            "type": "array",
                                            "items": {
                                                "type": "string",
                                                "pattern": "^[a-zA-Z_][a-zA-Z0-9_]*$",
                                            },
                                        },
                                        "targetLabel": {"type": "string"},
                                        "action": {"type": "string"},
                                        "regex": {"type": "string"},
                                        "replacement": {"type": "string"},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}


def _documents(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def _validate(doc: dict[str, Any]) -> None:
    if doc["kind"] == "ServiceMonitor":
        jsonschema.validate(doc, SERVICE_MONITOR_SCHEMA)
    else:
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)


def _render(values: dict[str, Any]) -> list[dict[str, Any]]:
    chart = helm_python.Chart.load(str(CHART))
    rendered = chart.render(values=values, name="lw", namespace="logwatch")
    return [doc for text in rendered.values() for doc in _documents(text)]


def _manifest_files() -> list[Path]:
    return sorted((ROOT / "deploy" / "kubernetes").rglob("*.yaml"))


@pytest.mark.parametrize("path", _manifest_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_manifest_validates(path: Path) -> None:
    docs = _documents(path.read_text())
    assert docs, f"{path} holds no object"
    for doc in docs:
        _validate(doc)


def test_a_broken_manifest_is_rejected() -> None:
    """The validation above can fail: a typo in a field is caught."""
    doc = _documents((ROOT / "deploy/kubernetes/node/daemonset.yaml").read_text())[0]
    doc["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        _validate(doc)
    monitor = _documents((ROOT / "deploy/kubernetes/node/servicemonitor.yaml").read_text())[0]
    monitor["spec"]["endpoints"][0]["intervall"] = "15s"
    with pytest.raises(jsonschema.ValidationError):
        _validate(monitor)


VALUE_SETS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "kafka": {"mode": "kafka", "serviceMonitor": {"enabled": True}, "analyzer": {"replicas": 3}},
    "node-monitor": {"serviceMonitor": {"enabled": True, "labels": {"release": "kube-prom"}}},
}


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_rendered_chart_validates(name: str) -> None:
    docs = _render(VALUE_SETS[name])
    kinds = sorted(doc["kind"] for doc in docs)
    assert "DaemonSet" in kinds and "ConfigMap" in kinds and "ServiceAccount" in kinds
    assert ("Deployment" in kinds) == (VALUE_SETS[name].get("mode") == "kafka")
    assert ("ServiceMonitor" in kinds) == bool(
        VALUE_SETS[name].get("serviceMonitor", {}).get("enabled")
    )
    for doc in docs:
        _validate(doc)


def test_chart_lints_clean() -> None:
    result = helm_python.lint(str(CHART), strict=True)
    messages = [
        m
        for m in result.get("messages", [])
        if str(m.get("severity", "")).upper() in {"ERROR", "WARNING"}
    ]
    assert not messages, messages


def test_plain_manifests_are_the_chart_rendered() -> None:
    spec = importlib.util.spec_from_file_location(
        "render_manifests", ROOT / "scripts/render-manifests.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["render_manifests"] = module
    spec.loader.exec_module(module)
    for mode in module.MODES:
        for name, text in module.render(mode).items():
            assert (ROOT / "deploy/kubernetes" / mode / name).read_text() == text, (
                f"{mode}/{name} is stale"
            )


def test_node_daemonset_is_least_privileged() -> None:
    docs = _render({})
    daemonset = next(d for d in docs if d["kind"] == "DaemonSet")
    pod = daemonset["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert {"operator": "Exists"} in pod["tolerations"]
    container = pod["containers"][0]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts["/var/log/pods"]["readOnly"] is True
    assert mounts["/var/log/containers"]["readOnly"] is True
    assert mounts.get("/var/lib/logwatch", {}).get("readOnly") is not True
    assert container["resources"]["limits"]["memory"]
    assert not any(
        d["kind"] in {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"} for d in docs
    )


@pytest.mark.parametrize(
    "values", [VALUE_SETS["defaults"], VALUE_SETS["kafka"]], ids=["node", "kafka"]
)
def test_configmap_config_loads_with_logwatch_validator(
    values: dict[str, Any], tmp_path: Path
) -> None:
    configmap = next(d for d in _render(values) if d["kind"] == "ConfigMap")
    path = tmp_path / "config.yaml"
    path.write_text(configmap["data"]["config.yaml"])
    config = load_config(path, env={})
    assert config.state_dir == "/var/lib/logwatch"
    assert config.daemon.health_listen.startswith("0.0.0.0:")


def test_a_bad_configmap_value_is_refused(tmp_path: Path) -> None:
    docs = _render({"config": {"daemon": {"batch_max_delay_s": -1}}})
    configmap = next(d for d in docs if d["kind"] == "ConfigMap")
    path = tmp_path / "config.yaml"
    path.write_text(configmap["data"]["config.yaml"])
    with pytest.raises(ValueError, match=r"daemon\.batch_max_delay_s"):
        load_config(path, env={})


def test_containerfile_command_is_a_valid_logwatch_invocation() -> None:
    text = (ROOT / "deploy" / "Containerfile").read_text()
    match = re.search(r"^CMD \[(.*)\]$", text, flags=re.MULTILINE)
    assert match, "Containerfile has no CMD"
    args = [a.strip().strip('"') for a in match.group(1).split(",")]
    assert args[0] == "run"
    help_text = CliRunner().invoke(cli, [args[0], "--help"]).output
    for option in (a for a in args[1:] if a.startswith("--")):
        assert option in help_text, f"`logwatch run` has no {option}"


def test_configmap_rules_load_with_the_rule_validator_and_join_the_builtin_pack(
    tmp_path: Path,
) -> None:
    from logwatch.alerts.rulefiles import configured_rules

    custom = {
        "rules": [
            {
                "name": "CheckoutRateLimited",
                "kind": "threshold",
                "where": {
                    "kind": "envoy",
                    "signals": "rate_limited",
                    "route_name": {"prefix": "httproute/shop/"},
                },
                "group_by": ["route_name"],
                "window": "1m",
                "threshold": 5,
                "severity": "critical",
                "annotations": {"summary": "Checkout rate limited on {labels.route_name}"},
            }
        ]
    }
    configmap = next(d for d in _render({"rules": custom}) if d["kind"] == "ConfigMap")
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(configmap["data"]["rules.yaml"])
    config_text = configmap["data"]["config.yaml"].replace(
        "/etc/logwatch/rules.yaml", str(rules_file)
    )
    (tmp_path / "config.yaml").write_text(config_text)
    config = load_config(tmp_path / "config.yaml", env={})
    names = {rule.name for rule in configured_rules(config.alerts)}
    assert "CheckoutRateLimited" in names
    assert {"RateLimited", "CircuitBreakerOpen"} <= names

    broken = {"rules": [{**custom["rules"][0], "threshold": "many"}]}
    configmap = next(d for d in _render({"rules": broken}) if d["kind"] == "ConfigMap")
    rules_file.write_text(configmap["data"]["rules.yaml"])
    with pytest.raises(ValueError, match="CheckoutRateLimited"):
        configured_rules(load_config(tmp_path / "config.yaml", env={}).alerts)
