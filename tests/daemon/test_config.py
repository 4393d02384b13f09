from __future__ import annotations

from pathlib import Path

import pytest

from logwatch.config import ConfigError, load_config


def test_file_then_env_then_flags(tmp_path: Path) -> None:
    path = tmp_path / "logwatch.yaml"
    path.write_text(
        "state_dir: /from/file\n"
        "daemon:\n  shutdown_timeout_s: 3\n  checkpoint_interval_s: 2\n"
        "sources:\n  paths: [/file/*.log]\n"
    )
    config = load_config(
        path,
        {
            "LOGWATCH_DAEMON__SHUTDOWN_TIMEOUT_S": "4",
            "LOGWATCH_STATE_DIR": "/from/env",
            "HOME": "/x",
        },
        {"state_dir": "/from/flag", "sinks.file": None},
    )
    assert config.state_dir == "/from/flag"
    assert config.daemon.shutdown_timeout_s == 4.0
    assert config.daemon.checkpoint_interval_s == 2.0
    assert config.sources.paths == ("/file/*.log",)
    assert config.sinks.file is None


def test_defaults_select_ztunnel_gateway_and_waypoint_containers() -> None:
    config = load_config(None, {}, {})
    assert config.state_dir == "/var/lib/logwatch"
    assert config.sources.paths == ("/var/log/containers/*.log",)
    selectors = {(s.namespace, s.pod, s.container) for s in config.sources.include}
    assert ("istio-system", "ztunnel-*", "istio-proxy") in selectors
    assert ("*", "*", "envoy") in selectors
    assert ("*", "waypoint*", "istio-proxy") in selectors


def test_env_lists_are_yaml() -> None:
    config = load_config(None, {"LOGWATCH_SOURCES__PATHS": '["/a/*.log", "/b/*.log"]'})
    assert config.sources.paths == ("/a/*.log", "/b/*.log")


def test_errors_name_origin_and_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("daemon:\n  checkpoint_interval_s: -1\n  nonsense: 1\n")
    with pytest.raises(ConfigError) as caught:
        load_config(
            path, {"LOGWATCH_DAEMON__HEALTH_LISTEN": "nowhere"}, {"sources.poll_interval_s": "x"}
        )
    message = str(caught.value)
    assert f"{path}:daemon.checkpoint_interval_s: " in message
    assert f"{path}:daemon.nonsense: Extra inputs" in message
    assert "env LOGWATCH_DAEMON__HEALTH_LISTEN:daemon.health_listen: " in message
    assert "flag:sources.poll_interval_s: " in message


def test_unreadable_or_invalid_yaml_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("daemon: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(broken)
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(listed)
