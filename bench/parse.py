"""Parse throughput: StreamDecoder.feed on CRI-wrapped mixed access logs vs a bare orjson loop.

Generates N lines (about 80 % Envoy Gateway JSON, 20 % ztunnel text, all CRI-wrapped, with
varied routes, flags, ids), then times in one process:
  (a) baseline: ``orjson.loads`` over the same JSON payloads, in a Python loop;
  (b) ``StreamDecoder.feed`` over the whole input in chunks, producing full records.
Prints lines/s for both and the ratio (b)/(a) in throughput. For context, the floor any
polars-based parse stands on: (c) ``pl.read_ndjson`` of the same JSON payloads alone (every
Envoy key as a string, no envelope, no ztunnel lines, no derived columns).

    .venv/bin/python bench/parse.py --lines 1000000 --chunk-mib 32
"""

from __future__ import annotations

import argparse
import io
import random
import time
import uuid
from datetime import UTC, datetime, timedelta

import orjson
import polars as pl

from parsers import StreamDecoder
from parsers.envoy_json import ENVOY_JSON_KEYS

ROUTES = [f"httproute/default/app-{i}/rule/{i % 3}/match/0/*" for i in range(40)]
FLAGS = ["-"] * 90 + ["RL", "UO", "UH", "UF", "UF,URX", "URX", "NR", "DC", "UT", "UC"]
DETAILS = {
    "-": "via_upstream",
    "RL": "request_rate_limited",
    "UO": "upstream_reset_before_response_started{overflow}",
    "UH": "no_healthy_upstream",
    "UF": "upstream_reset_before_response_started{remote_connection_failure|delayed_connect_error:_Connection_refused}",
    "UF,URX": "upstream_reset_before_response_started{remote_connection_failure|delayed_connect_error:_Connection_refused}",
    "URX": "via_upstream",
    "NR": "route_not_found",
    "DC": "downstream_remote_disconnect",
    "UT": "upstream_response_timeout",
    "UC": "upstream_reset_before_response_started{connection_termination}",
}
CODES = {
    "-": 200,
    "RL": 429,
    "UO": 503,
    "UH": 503,
    "UF": 503,
    "UF,URX": 503,
    "URX": 503,
    "NR": 404,
    "DC": 0,
    "UT": 504,
    "UC": 503,
}
ERRORS = [None] * 9 + [
    '"http status: 401 Unauthorized"',
    '"io error: Connection refused (os error 111)"',
]


def envoy_payload(rng: random.Random, when: datetime) -> bytes:
    flags = rng.choice(FLAGS)
    route = rng.choice(ROUTES)
    pod_ip = f"10.244.{rng.randrange(8)}.{rng.randrange(250)}"
    obj = {
        ":authority": "bookinfo.example.com",
        "bytes_received": rng.randrange(2000),
        "bytes_sent": rng.randrange(100000),
        "connection_termination_details": None,
        "downstream_local_address": "10.244.1.70:10080",
        "downstream_remote_address": f"172.18.0.{rng.randrange(250)}:{rng.randrange(1024, 65535)}",
        "duration": rng.randrange(3000),
        "method": rng.choice(["GET", "GET", "POST", "PUT"]),
        "protocol": "HTTP/1.1",
        "requested_server_name": None,
        "response_code": CODES[flags],
        "response_code_details": DETAILS[flags],
        "response_flags": flags,
        "route_name": route,
        "start_time": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z",
        "upstream_cluster": route.rsplit("/match", 1)[0],
        "upstream_host": f"{pod_ip}:9080",
        "upstream_local_address": f"10.244.1.70:{rng.randrange(1024, 65535)}",
        "upstream_transport_failure_reason": None,
        "user-agent": rng.choice(
            [
                "curl/8.7.1",
                "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
                "python-requests/2.32.3",
            ]
        ),
        "x-envoy-origin-path": f"/api/v1/items/{rng.randrange(10000)}?page={rng.randrange(50)}",
        "x-envoy-upstream-service-time": None,
        "x-forwarded-for": f"172.18.0.{rng.randrange(250)}",
        "x-request-id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
    }
    return orjson.dumps(obj)


def ztunnel_payload(rng: random.Random, when: datetime) -> bytes:
    error = rng.choice(ERRORS)
    src = f"10.244.{rng.randrange(8)}.{rng.randrange(250)}"
    dst = f"10.244.{rng.randrange(8)}.{rng.randrange(250)}"
    fields = (
        f'src.addr={src}:{rng.randrange(1024, 65535)} src.workload="productpage-v1-54bb874995-kzpnw" '
        f'src.namespace="default" src.identity="spiffe://cluster.local/ns/default/sa/bookinfo-productpage" '
        f'dst.addr={dst}:15008 dst.hbone_addr={dst}:9080 dst.service="reviews.default.svc.cluster.local" '
        f'dst.workload="reviews-v{rng.randrange(1, 4)}-5b667bcbf8-gj7nz" dst.namespace="default" '
        f'dst.identity="spiffe://cluster.local/ns/default/sa/bookinfo-reviews" '
        f'direction="{rng.choice(["outbound", "inbound"])}" bytes_sent={rng.randrange(10**6)} '
        f'bytes_recv={rng.randrange(10**6)} duration="{rng.randrange(10**5)}ms"'
        + (f" error={error}" if error else "")
    )
    level = "error" if error else "info"
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"{stamp}\t{level}\taccess\tconnection complete\t{fields}".encode()


def generate(lines: int, seed: int = 7) -> tuple[bytes, list[bytes]]:
    """(CRI-wrapped input, the JSON payloads it contains)."""
    rng = random.Random(seed)
    start = datetime(2025, 7, 18, 3, 0, tzinfo=UTC)
    out: list[bytes] = []
    payloads: list[bytes] = []
    for index in range(lines):
        when = start + timedelta(microseconds=index * 3607)
        if rng.random() < 0.8:
            payload = envoy_payload(rng, when)
            payloads.append(payload)
        else:
            payload = ztunnel_payload(rng, when)
        cri = (when + timedelta(microseconds=150)).strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"
        out.append(cri.encode() + b" stdout F " + payload + b"\n")
    return b"".join(out), payloads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--chunk-mib", type=int, default=32)
    args = parser.parse_args()
    data, payloads = generate(args.lines)
    print(f"input: {args.lines} lines, {len(data) / 1e6:.0f} MB, {len(payloads)} JSON payloads")

    started, cpu = time.perf_counter(), time.process_time()
    for payload in payloads:
        orjson.loads(payload)
    baseline = time.perf_counter() - started
    baseline_cpu = time.process_time() - cpu

    ndjson = io.BytesIO(b"\n".join(payloads) + b"\n")
    started = time.perf_counter()
    pl.read_ndjson(ndjson, schema=dict.fromkeys(ENVOY_JSON_KEYS, pl.String()))
    floor = time.perf_counter() - started

    decoder = StreamDecoder("/var/log/pods/default_envoy-default-gw-abc_0a1b/envoy/0.log")
    chunk_bytes = args.chunk_mib << 20
    records = rejected = 0
    started, cpu = time.perf_counter(), time.process_time()
    position = 0
    while position < len(data):
        cut = data.rfind(b"\n", position, position + chunk_bytes) + 1
        if cut <= position:
            cut = len(data)
        chunk = decoder.feed(data[position:cut])
        records += chunk.records.height
        rejected += len(chunk.rejections)
        position = cut
    decoded = time.perf_counter() - started
    decoded_cpu = time.process_time() - cpu

    print(
        f"(a) baseline orjson.loads loop over {len(payloads)} payloads: {baseline:.3f} s "
        f"(cpu {baseline_cpu:.3f} s), {len(payloads) / baseline:,.0f} payloads/s "
        f"({args.lines / baseline:,.0f} input lines/s)"
    )
    print(
        f"(b) StreamDecoder.feed, full records: {decoded:.3f} s (cpu {decoded_cpu:.3f} s, "
        f"all threads), {args.lines / decoded:,.0f} lines/s "
        f"(records={records}, malformed={rejected})"
    )
    print(
        f"(c) floor: pl.read_ndjson of the {len(payloads)} payloads alone: {floor:.3f} s "
        f"= {floor / baseline:.2f}x the baseline"
    )
    print(
        f"ratio (b)/(a) wall time: {decoded / baseline:.2f}x, cpu time: "
        f"{decoded_cpu / baseline_cpu:.2f}x  (target <= 1.00x wall)"
    )


if __name__ == "__main__":
    main()
