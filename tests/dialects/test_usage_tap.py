"""UsageTap: a stream's usage noted as it passes, priced, and hidden when not asked for."""

from __future__ import annotations

import json

import pytest

from router.config.model import Price
from router.dialects.base import Usage
from router.dialects.chat.usage import UsageTap, asking_for_usage
from router.dialects.framing import SsePassThrough

CONTENT = b'data: {"choices": [{"index": 0, "delta": {"content": "hi"}}], "usage": null}\n\n'
USAGE = (
    b'data: {"choices": [], "usage": {"prompt_tokens": 1000, "completion_tokens": 500,'
    b' "prompt_tokens_details": {"cached_tokens": 200}}}\n\n'
)
DONE = b"data: [DONE]\n\n"


def run(tap: UsageTap, *pieces: bytes) -> bytes:
    out = [b for piece in pieces for b in tap.feed(piece)]
    return b"".join(out + tap.close())


@pytest.mark.parametrize(
    "pieces",
    [(CONTENT, USAGE, DONE), (CONTENT + USAGE + DONE,), (CONTENT + USAGE[:40], USAGE[40:] + DONE)],
    ids=["one-event-a-read", "all-in-one-read", "split-inside-the-usage-event"],
)
def test_a_usage_chunk_the_client_did_not_ask_for_is_noted_and_dropped(
    pieces: tuple[bytes, ...],
) -> None:
    tap = UsageTap(SsePassThrough(), keep=False, price=Price(2, 8, 0.5))
    assert run(tap, *pieces) == CONTENT + DONE
    assert tap.usage == Usage(1000, 500, 200)


def test_a_usage_chunk_the_client_asked_for_carries_its_cost() -> None:
    tap = UsageTap(SsePassThrough(), keep=True, price=Price(2, 8, 0.5))
    out = run(tap, CONTENT, USAGE, DONE)
    events = [e for e in out.split(b"\n\n") if e]
    assert events[0] + b"\n\n" == CONTENT
    assert json.loads(events[1].removeprefix(b"data: "))["usage"]["cost_usd"] == 0.0057
    assert events[2] + b"\n\n" == DONE


def test_a_free_model_s_usage_chunk_passes_unchanged() -> None:
    tap = UsageTap(SsePassThrough(), keep=True)
    assert run(tap, CONTENT, USAGE, DONE) == CONTENT + USAGE + DONE
    assert tap.usage == Usage(1000, 500, 200)


def test_a_stream_without_usage_leaves_it_unknown() -> None:
    tap = UsageTap(SsePassThrough(), keep=False)
    assert run(tap, CONTENT, DONE) == CONTENT + DONE
    assert tap.usage is None


def test_asking_for_usage_keeps_the_client_s_other_stream_options() -> None:
    body = {"model": "m", "stream_options": {"include_obfuscation": False}}
    assert asking_for_usage(body)["stream_options"] == {
        "include_obfuscation": False,
        "include_usage": True,
    }
    assert "stream_options" in asking_for_usage({"model": "m"})
    assert body["stream_options"] == {"include_obfuscation": False}  # not mutated
