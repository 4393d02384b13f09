"""The demo's synthetic mesh writes lines the parsers read back exactly as intended."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from logwatch.demo.mesh import (
    INGRESS,
    LOGGING_PODS,
    WAYPOINT_RATINGS,
    Incidents,
    Mesh,
    prepare_tree,
)
from parsers import StreamDecoder

START = datetime(2025, 7, 18, 3, 33, 0, tzinfo=UTC)


def _run(mesh: Mesh, seconds: int, rate: int) -> dict[str, pl.DataFrame]:
    written: dict[str, list[bytes]] = {pod.name: [] for pod in LOGGING_PODS}
    for second in range(1, seconds + 1):
        for pod, lines in mesh.tick(START + timedelta(seconds=second), rate).items():
            written[pod.name].extend(lines)
    frames = {}
    for pod in LOGGING_PODS:
        decoder = StreamDecoder(str(pod.log_path(Path("/var/log"))))
        chunk = decoder.feed(b"".join(written[pod.name]))
        assert not chunk.rejections, chunk.rejections[:3]
        assert chunk.ignored == 0
        assert chunk.lines == len(written[pod.name])
        frames[pod.name] = chunk.records
    return frames


def test_every_line_parses_with_pod_metadata_and_roles() -> None:
    frames = _run(Mesh(START), seconds=5, rate=20)
    ingress = frames[INGRESS.name]
    assert ingress.height == 100
    assert set(ingress["pod"]) == {INGRESS.name}
    assert set(ingress["container"]) == {"envoy"}
    assert set(ingress["role"]) == {"ingress"}
    assert set(frames[WAYPOINT_RATINGS.name]["role"]) == {"waypoint"}
    ztunnel = pl.concat([frames["ztunnel-7xk2p"], frames["ztunnel-m4q9d"]])
    assert set(ztunnel["kind"]) == {"ztunnel"}
    assert set(ztunnel["direction"]) == {"inbound", "outbound"}


def test_incidents_show_up_as_rate_limits_and_circuit_breakers_only_in_their_windows() -> None:
    mesh = Mesh(START, incidents=Incidents(rate_limit=(2, 4), circuit_breaker=(5, 7)))
    frames = _run(mesh, seconds=9, rate=30)
    ingress = frames[INGRESS.name]
    limited = ingress.filter(pl.col("response_flags").list.contains("RL"))
    assert limited.height == mesh.rate_limited > 0
    assert set(limited["response_code_details"]) == {"local_rate_limited"}
    offsets = limited.select((pl.col("ts") - pl.lit(START)).dt.total_seconds())
    assert offsets.to_series().is_between(2, 4).all()
    ratings = frames[WAYPOINT_RATINGS.name]
    overflow = ratings.filter(pl.col("signals").list.contains("circuit_breaker"))
    assert overflow.height == mesh.overflowed > 0
    assert set(overflow["reset_reason"]) == {"overflow"}
    # the ingress still answers 200 while the ratings waypoint overflows
    assert ingress.filter(pl.col("response_code") >= 500).height == 0


def test_tree_has_kubelet_layout(tmp_path: Path) -> None:
    prepare_tree(tmp_path)
    for pod in LOGGING_PODS:
        link = pod.link_path(tmp_path)
        assert link.is_symlink() and link.resolve() == pod.log_path(tmp_path).resolve()
        assert link.name.startswith(f"{pod.name}_{pod.namespace}_{pod.container}-")
