"""The one HTTP client of the notifiers: timeouts everywhere, outcomes as DeliveryResult.

All HTTP notifiers share one ``httpx.AsyncClient`` (one connection pool). Every request has
a total timeout covering connect, send and the reply, and at most 64 KiB of a reply is
read. Proxies from the environment (HTTPS_PROXY, NO_PROXY) are honoured; redirects are not
followed. Transport errors and HTTP statuses are mapped to DeliveryResult without the URL:
webhook URLs carry secrets, so no reason text, log record or exception raised from here
contains a URL, header or request body. httpx's own ``HTTP Request: POST <url>`` log line
is suppressed for the same reason.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx

from logwatch.notify.base import DeliveryResult

_REASON_BODY_CHARS = 200
_MAX_REPLY_BYTES = 64 * 1024


class _DropRequestLines(logging.Filter):
    """httpx logs every request with its full URL at INFO; a URL may be a secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("HTTP Request:")


_REQUEST_LINE_FILTER = _DropRequestLines()


@dataclass(frozen=True, slots=True)
class HttpReply:
    status: int
    body: bytes
    retry_after_s: float | None


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None if
    absent or unparseable. Negative waits become 0."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def classify(reply: HttpReply, redact: tuple[str, ...] = ()) -> DeliveryResult:
    """The common HTTP status policy: 2xx delivered; 408, 425, 429 and 5xx retried (with
    the server's Retry-After when given); any other status is a permanent failure. The
    reason quotes the start of the reply body, with any of ``redact`` blanked out (a server
    may echo the request, secrets included)."""
    status = reply.status
    if 200 <= status < 300:
        return DeliveryResult.delivered()
    reason = f"HTTP {status}: {safe_snippet(reply.body, redact)}"
    if status in (408, 425, 429) or status >= 500:
        return DeliveryResult.retry(reason, reply.retry_after_s)
    return DeliveryResult.failed(reason)


def safe_snippet(body: bytes, redact: tuple[str, ...] = ()) -> str:
    """The start of a reply body, printable, with every ``redact`` string blanked out
    before cutting (so no prefix of a secret survives the cut)."""
    text = body.decode("utf-8", "replace")
    for secret in sorted(redact, key=len, reverse=True):
        if secret:
            text = text.replace(secret, "[redacted]")
    text = text[:_REASON_BODY_CHARS]
    return "".join(ch if ch.isprintable() else " " for ch in text).strip()


def url_secrets(url: str) -> tuple[str, ...]:
    """The parts of a secret URL to redact from anything a server sends back: the URL, its
    path and its query (where webhook tokens live)."""
    parts = urlsplit(url)
    return tuple(part for part in (url, parts.path, parts.query) if len(part) > 1)


class HttpTransportError(Exception):
    """A request did not produce an HTTP reply. The message never contains the URL."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent

    def as_result(self) -> DeliveryResult:
        if self.permanent:
            return DeliveryResult.failed(self.reason)
        return DeliveryResult.retry(self.reason)


class SharedHttpClient:
    """One AsyncClient shared by the HTTP notifiers, reference-counted.

    Each notifier calls ``retain()`` when built and ``release()`` in its ``aclose()``; the
    pool closes when the last one releases. ``aclose()`` closes it at once (idempotent).
    """

    def __init__(self, *, user_agent: str = "logwatch") -> None:
        logging.getLogger("httpx").addFilter(_REQUEST_LINE_FILTER)
        self._user_agent = user_agent
        self._client: httpx.AsyncClient | None = None  # opened by the first request
        self._users = 0
        self._closed = False

    def retain(self) -> None:
        self._users += 1

    async def release(self) -> None:
        self._users -= 1
        if self._users <= 0:
            await self.aclose()

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            if self._client is not None:
                await self._client.aclose()

    async def post(
        self, url: str, body: bytes, *, headers: dict[str, str], timeout_s: float
    ) -> HttpReply:
        """POST ``body``; raises HttpTransportError (retryable unless the URL is invalid)
        when no reply arrives within ``timeout_s`` or the connection fails."""
        if self._closed:
            raise HttpTransportError("HTTP client is closed")
        if self._client is None:
            self._client = httpx.AsyncClient(
                headers={"user-agent": self._user_agent},
                follow_redirects=False,  # a redirect could forward a secret body elsewhere
                timeout=httpx.Timeout(10.0),
            )
        try:
            # httpx's timeouts are per phase; this bounds the whole exchange, body included
            async with asyncio.timeout(timeout_s):
                return await self._exchange(self._client, url, body, headers, timeout_s)
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise HttpTransportError(
                f"timeout after {timeout_s:g}s ({type(exc).__name__})"
            ) from None
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise HttpTransportError(
                f"invalid receiver URL ({type(exc).__name__})", permanent=True
            ) from None
        except httpx.HTTPError as exc:
            raise HttpTransportError(f"connection failed ({type(exc).__name__})") from None

    @staticmethod
    async def _exchange(
        client: httpx.AsyncClient,
        url: str,
        body: bytes,
        headers: dict[str, str],
        timeout_s: float,
    ) -> HttpReply:
        request = client.build_request(
            "POST", url, content=body, headers=headers, timeout=httpx.Timeout(timeout_s)
        )
        response = await client.send(request, stream=True)
        try:
            kept = bytearray()
            # only the start of a reply is ever used (a reason text): never buffer more
            async for chunk in response.aiter_bytes():
                kept += chunk[: _MAX_REPLY_BYTES - len(kept)]
                if len(kept) >= _MAX_REPLY_BYTES:
                    break
        finally:
            await response.aclose()
        return HttpReply(
            status=response.status_code,
            body=bytes(kept),
            retry_after_s=parse_retry_after(response.headers.get("retry-after")),
        )

    async def post_result(
        self,
        url: str,
        body: bytes,
        *,
        headers: dict[str, str],
        timeout_s: float,
        redact: tuple[str, ...] = (),
    ) -> DeliveryResult:
        """POST and classify (see ``classify``); never raises for delivery problems."""
        try:
            reply = await self.post(url, body, headers=headers, timeout_s=timeout_s)
        except HttpTransportError as exc:
            return exc.as_result()
        return classify(reply, redact)
