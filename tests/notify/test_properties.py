"""Properties over arbitrary log-derived text: Slack messages stay valid and ping no one;
notifications survive the outbox codec unchanged."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from logwatch.alerts.model import Alert
from logwatch.notify import codec
from logwatch.notify.slack import build_message
from tests.notify.conftest import make_alert, make_notification
from tests.notify.receivers import validate_slack

# text a log line can carry, biased towards Slack's control syntax
_pieces = st.sampled_from(
    [*"<>&!@#|*_`~: a\n\x1bé", "<!channel>", "<@U123>", "<!here|here>", "&amp;", "&lt;"]
)
hostile_text = st.lists(_pieces, max_size=80).map("".join) | st.text(max_size=400)
labels = st.dictionaries(st.text(min_size=1, max_size=30), hostile_text, max_size=6)
times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@st.composite
def alerts(draw: st.DrawFn) -> Alert:
    n = draw(st.integers(0, 9999))
    firing = draw(st.booleans())
    starts = draw(times)
    return make_alert(
        n,
        rule=draw(hostile_text.filter(bool)),
        status="firing" if firing else "resolved",
        labels={"alertname": "x", **draw(labels)},
        annotations=draw(labels),
        starts_at=starts,
        ends_at=None if firing else draw(times),
        events=draw(st.integers(0, 10**9)),
        origin=draw(st.none() | labels),
    )


def _texts(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    return []


@settings(max_examples=60, deadline=None)
@given(st.lists(alerts(), min_size=1, max_size=50))
def test_slack_messages_are_valid_and_never_mention(items: list[Alert]) -> None:
    message = build_message(make_notification(*items))
    assert validate_slack(message) == []
    for text in _texts(message):
        assert "<" not in text and ">" not in text
        # every & starts one of the three entities Slack decodes
        stripped = text.replace("&amp;", "").replace("&lt;", "").replace("&gt;", "")
        assert "&" not in stripped


@settings(max_examples=60, deadline=None)
@given(st.lists(alerts(), min_size=1, max_size=5), st.none() | times)
def test_codec_round_trip(items: list[Alert], created_at: datetime | None) -> None:
    note = make_notification(*items)
    note = type(note)(
        receiver=note.receiver,
        group_key=note.group_key,
        status=note.status,
        alerts=note.alerts,
        group_labels=note.group_labels,
        created_at=created_at,
    )
    assert codec.decode(codec.encode(note)) == note
    assert codec.notification_id(codec.decode(codec.encode(note))) == codec.notification_id(note)
