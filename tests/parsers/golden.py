"""Golden files: every sample in tests/fixtures parsed by the decoder, as NDJSON + rejections.

Regenerate with ``python -m tests.parsers.golden`` after a deliberate change, then review the
diff line by line: the golden files are the hand-checked expectation, not a snapshot to bless.
"""

from __future__ import annotations

from pathlib import Path

import orjson

from parsers import PUBLIC_KEYS, StreamDecoder, frame_records

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
GOLDEN = FIXTURES / "golden"
SAMPLES = sorted(p for p in FIXTURES.iterdir() if p.is_file() and p.name != "README.md")


def render(sample: Path, chunk_bytes: int | None = None) -> tuple[str, str]:
    """(records as NDJSON, rejections + summary) for one sample, as `logwatch parse` shows them."""
    data = sample.read_bytes()
    decoder = StreamDecoder(sample.name)
    chunks = []
    step = chunk_bytes or len(data) or 1
    position = 0
    while position < len(data):
        cut = data.find(b"\n", min(position + step, len(data)) - 1)
        end = len(data) if cut < 0 else cut + 1
        chunks.append(decoder.feed(data[position:end]))
        position = end
    chunks.append(decoder.finish())
    records = [r for c in chunks for r in frame_records(c.records)]
    out = "".join(
        orjson.dumps({k: r.public()[k] for k in PUBLIC_KEYS}).decode() + "\n" for r in records
    )
    lines = sum(c.lines for c in chunks)
    ignored = sum(c.ignored for c in chunks)
    rejections = [rej for c in chunks for rej in c.rejections]
    err = "".join(f"{r.file}:{r.lineno}: {r.reason}\n" for r in rejections)
    err += f"lines={lines} records={len(records)} ignored={ignored} malformed={len(rejections)}\n"
    return out, err


def main() -> None:
    GOLDEN.mkdir(exist_ok=True)
    for sample in SAMPLES:
        out, err = render(sample)
        (GOLDEN / f"{sample.name}.ndjson").write_text(out)
        (GOLDEN / f"{sample.name}.rejections").write_text(err)


if __name__ == "__main__":
    main()
