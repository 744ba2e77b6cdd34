"""The incremental SSE and NDJSON decoders, fed in awkward pieces."""

from __future__ import annotations

import pytest

from router.dialects.framing import NdjsonDecoder, SseDecoder, SseEvent

STREAM = b"event: a\ndata: 1\n\n: comment\ndata: x\ndata: y\n\nevent: b\r\ndata: 2\r\n\r\n"
EXPECTED = [SseEvent("a", "1"), SseEvent(None, "x\ny"), SseEvent("b", "2")]


@pytest.mark.parametrize("size", [1, 2, 3, 7, len(STREAM)], ids=lambda n: f"{n}-byte pieces")
def test_sse_events_survive_any_split(size: int) -> None:
    decoder = SseDecoder()
    events = []
    for i in range(0, len(STREAM), size):
        events += decoder.feed(STREAM[i : i + size])
    assert events + decoder.close() == EXPECTED


def test_sse_flushes_a_final_event_without_blank_line() -> None:
    decoder = SseDecoder()
    assert decoder.feed(b"data: last") == []
    assert decoder.close() == [SseEvent(None, "last")]


def test_ndjson_lines_split_anywhere() -> None:
    decoder = NdjsonDecoder()
    assert decoder.feed(b'{"a":1}\n{"b"') == [b'{"a":1}']
    assert decoder.feed(b":2}\n\n") == [b'{"b":2}']
    assert decoder.feed(b'{"c":3}') == []
    assert decoder.close() == [b'{"c":3}']
