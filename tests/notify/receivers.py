"""Loopback HTTP receivers for the notifier tests, implementing the endpoints as published.

- ``SlackWebhook``: a Slack incoming webhook. Validates the Block Kit payload strictly
  (known keys, block types, text object types, Slack's length and count limits); answers
  200 ``ok`` or 400 ``invalid_payload``. Records every message and any text that Slack
  would turn into a mention (``<!channel>``, ``<@U...>``).
- ``PagerDutyEvents``: PagerDuty Events API v2 ``/v2/enqueue``. Validates events strictly
  (routing key, event_action enum, dedup_key length, payload required keys, severity enum,
  summary length, ISO 8601 timestamp, links, 512 KB); answers 202 with the published JSON
  or 400 ``invalid event``. Keeps per dedup_key the sequence of accepted actions.
- ``GenericWebhook``: any receiver of the Alertmanager-compatible webhook.

Each can be scripted: a queue of replies (status, headers, delay) served before the normal
behaviour, to play 429 with Retry-After, 500, or a slow answer (a client timeout).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Scripted:
    """One scripted reply. ``status`` 0 means: process the request normally, but answer
    only after ``delay_s`` (accepted, yet the client may time out and send it again)."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() on arrival

    def json(self) -> Any:
        return json.loads(self.body)


class LoopbackReceiver:
    """A threaded HTTP server on 127.0.0.1 with a free port. ``url`` is its base URL."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.script: deque[Scripted] = deque()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                request = Received(
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    time.monotonic(),
                )
                with receiver.lock:
                    receiver.requests.append(request)
                    scripted = receiver.script.popleft() if receiver.script else None
                if scripted is not None and scripted.status:
                    status, reply, headers = scripted.status, scripted.body, scripted.headers
                else:
                    with receiver.lock:
                        status, reply, headers = receiver.handle(request)
                if scripted is not None and scripted.delay_s:
                    time.sleep(scripted.delay_s)
                try:
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("content-length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout): what a real server would see too

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def handle(self, request: Received) -> tuple[int, bytes, dict[str, str]]:
        return 200, b"ok", {}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


# --- Slack ----------------------------------------------------------------------------

_SLACK_KEYS = {"text", "blocks", "attachments", "username", "icon_emoji", "icon_url", "mrkdwn"}
_MENTION = re.compile(r"<[!@#]")


def _text_object(obj: Any, where: str, max_len: int, kinds: set[str]) -> list[str]:
    if not isinstance(obj, dict):
        return [f"{where}: text object must be an object"]
    errors = []
    if obj.get("type") not in kinds:
        errors.append(f"{where}.type must be one of {sorted(kinds)}")
    allowed = (
        {"type", "text", "emoji"}
        if obj.get("type") == "plain_text"
        else {"type", "text", "verbatim"}
    )
    if set(obj) - allowed:
        errors.append(f"{where}: unknown keys {sorted(set(obj) - allowed)}")
    text = obj.get("text")
    if not isinstance(text, str) or not 1 <= len(text) <= max_len:
        errors.append(f"{where}.text must be a string of 1..{max_len} characters")
    return errors


def validate_slack(message: Any) -> list[str]:
    """Problems Slack would reject the message for (empty list: valid)."""
    if not isinstance(message, dict):
        return ["payload must be a JSON object"]
    errors = [f"unknown key {key}" for key in sorted(set(message) - _SLACK_KEYS)]
    text = message.get("text")
    blocks = message.get("blocks")
    if not isinstance(text, str) or not text:
        errors.append("text is required (fallback for notifications)")
    if blocks is None:
        return errors
    if not isinstance(blocks, list) or not 1 <= len(blocks) <= 50:
        return [*errors, "blocks must be a list of 1..50 blocks"]
    for i, block in enumerate(blocks):
        where = f"blocks[{i}]"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "header":
            if set(block) - {"type", "text", "block_id"}:
                errors.append(f"{where}: unknown keys")
            errors += _text_object(block.get("text"), f"{where}.text", 150, {"plain_text"})
        elif kind == "section":
            if set(block) - {"type", "text", "fields", "block_id", "accessory"}:
                errors.append(f"{where}: unknown keys")
            if "text" not in block and "fields" not in block:
                errors.append(f"{where}: needs text or fields")
            if "text" in block:
                errors += _text_object(
                    block["text"], f"{where}.text", 3000, {"plain_text", "mrkdwn"}
                )
            fields = block.get("fields", [])
            if not isinstance(fields, list) or len(fields) > 10:
                errors.append(f"{where}.fields: at most 10")
            for j, item in enumerate(fields if isinstance(fields, list) else []):
                errors += _text_object(item, f"{where}.fields[{j}]", 2000, {"plain_text", "mrkdwn"})
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= 10:
                errors.append(f"{where}.elements: 1..10 elements")
            for j, item in enumerate(elements if isinstance(elements, list) else []):
                errors += _text_object(
                    item, f"{where}.elements[{j}]", 3000, {"plain_text", "mrkdwn"}
                )
        elif kind == "divider":
            pass
        else:
            errors.append(f"{where}: unsupported block type {kind!r}")
    return errors


def _all_texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _all_texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in _all_texts(v)]
    return []


class SlackWebhook(LoopbackReceiver):
    def __init__(self, path: str = "/services/T000/B000/XXXXXXXX") -> None:
        self.path = path
        self.messages: list[dict[str, Any]] = []
        self.invalid: list[list[str]] = []
        self.mentions: list[str] = []
        super().__init__()

    @property
    def webhook_url(self) -> str:
        return self.url + self.path

    def handle(self, request: Received) -> tuple[int, bytes, dict[str, str]]:
        if request.path != self.path:
            return 404, b"no_service", {}
        try:
            message = request.json()
        except ValueError:
            self.invalid.append(["not JSON"])
            return 400, b"invalid_payload", {}
        errors = validate_slack(message)
        if errors:
            self.invalid.append(errors)
            return 400, b"invalid_payload", {}
        self.messages.append(message)
        self.mentions += [t for t in _all_texts(message) if _MENTION.search(t)]
        return 200, b"ok", {}


# --- PagerDuty ------------------------------------------------------------------------

_PD_KEYS = {
    "routing_key",
    "event_action",
    "dedup_key",
    "payload",
    "images",
    "links",
    "client",
    "client_url",
}
_PD_PAYLOAD_KEYS = {
    "summary",
    "source",
    "severity",
    "timestamp",
    "component",
    "group",
    "class",
    "custom_details",
}


def validate_pagerduty(event: Any, routing_key: str) -> list[str]:
    if not isinstance(event, dict):
        return ["event must be a JSON object"]
    errors = [f"unknown key {key}" for key in sorted(set(event) - _PD_KEYS)]
    if event.get("routing_key") != routing_key:
        errors.append("routing_key is invalid")
    action = event.get("event_action")
    if action not in {"trigger", "acknowledge", "resolve"}:
        errors.append("event_action must be trigger, acknowledge or resolve")
    dedup = event.get("dedup_key")
    if dedup is not None and (not isinstance(dedup, str) or not 1 <= len(dedup) <= 255):
        errors.append("dedup_key must be a string of at most 255 characters")
    if action in {"acknowledge", "resolve"} and dedup is None:
        errors.append("dedup_key is required for acknowledge and resolve")
    if action == "trigger":
        payload = event.get("payload")
        if not isinstance(payload, dict):
            return [*errors, "payload is required for trigger"]
        errors += [f"unknown payload key {k}" for k in sorted(set(payload) - _PD_PAYLOAD_KEYS)]
        summary = payload.get("summary")
        if not isinstance(summary, str) or not 1 <= len(summary) <= 1024:
            errors.append("payload.summary must be a string of 1..1024 characters")
        if not isinstance(payload.get("source"), str) or not payload["source"]:
            errors.append("payload.source is required")
        if payload.get("severity") not in {"critical", "error", "warning", "info"}:
            errors.append("payload.severity must be critical, error, warning or info")
        if "timestamp" in payload:
            try:
                datetime.fromisoformat(str(payload["timestamp"]).replace("Z", "+00:00"))
            except ValueError:
                errors.append("payload.timestamp must be ISO 8601")
        for key in ("component", "group", "class"):
            if key in payload and not isinstance(payload[key], str):
                errors.append(f"payload.{key} must be a string")
        if "custom_details" in payload and not isinstance(payload["custom_details"], dict):
            errors.append("payload.custom_details must be an object")
    for link in event.get("links", []):
        if not isinstance(link, dict) or not isinstance(link.get("href"), str):
            errors.append("links[].href is required")
    return errors


class PagerDutyEvents(LoopbackReceiver):
    def __init__(self, routing_key: str) -> None:
        self.routing_key = routing_key
        self.accepted: list[dict[str, Any]] = []
        self.actions: dict[str, list[str]] = {}  # dedup_key -> accepted event_actions in order
        self.open: set[str] = set()  # dedup_keys of open alerts
        self.alerts_opened: dict[str, int] = {}  # dedup_key -> alerts opened (PagerDuty's dedup)
        self.invalid: list[list[str]] = []
        super().__init__()

    @property
    def enqueue_url(self) -> str:
        return self.url + "/v2/enqueue"

    def handle(self, request: Received) -> tuple[int, bytes, dict[str, str]]:
        if request.path != "/v2/enqueue":
            return 404, b"", {}
        if len(request.body) > 512 * 1024:
            return 413, b"", {}
        try:
            event = request.json()
        except ValueError:
            event = None
        errors = validate_pagerduty(event, self.routing_key)
        if errors:
            self.invalid.append(errors)
            body = {
                "status": "invalid event",
                "message": "Event object is invalid",
                "errors": errors,
            }
            return 400, json.dumps(body).encode(), {"content-type": "application/json"}
        self.accepted.append(event)
        key, action = event["dedup_key"], event["event_action"]
        self.actions.setdefault(key, []).append(action)
        # PagerDuty: a trigger on an open alert adds to it; a resolve closes it
        if action == "trigger" and key not in self.open:
            self.open.add(key)
            self.alerts_opened[key] = self.alerts_opened.get(key, 0) + 1
        elif action == "resolve":
            self.open.discard(key)
        body = {"status": "success", "message": "Event processed", "dedup_key": event["dedup_key"]}
        return 202, json.dumps(body).encode(), {"content-type": "application/json"}


class GenericWebhook(LoopbackReceiver):
    def __init__(self) -> None:
        self.bodies: list[Received] = []
        super().__init__()

    def handle(self, request: Received) -> tuple[int, bytes, dict[str, str]]:
        self.bodies.append(request)
        return 200, b"", {}
