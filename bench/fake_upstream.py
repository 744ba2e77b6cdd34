"""A fast fake LLM upstream for benchmarks: canned answers from a bare asyncio protocol.

It speaks just enough HTTP/1.1 (keep-alive, Content-Length bodies) to answer
OpenAI ``/v1/chat/completions`` (JSON and SSE), ``/v1/models``, Ollama ``/api/chat``
(JSON and NDJSON) and ``/api/tags``, and Anthropic ``/v1/messages`` (JSON and SSE), so that it is not the bottleneck.

    python -m bench.fake_upstream PORT
"""

from __future__ import annotations

import asyncio
import json
import sys

REPLY = "Hello! This is a short benchmark answer from the fake upstream."
WORDS = REPLY.split(" ")


def _response(status: str, content_type: str, body: bytes) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _chunked(content_type: str, chunks: list[bytes]) -> bytes:
    head = f"HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ntransfer-encoding: chunked\r\n\r\n"
    body = b"".join(f"{len(c):x}\r\n".encode() + c + b"\r\n" for c in chunks) + b"0\r\n\r\n"
    return head.encode() + body


def _openai_json() -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 1700000000,
            "model": "bench",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": REPLY},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": 12,
                "completion_tokens": len(WORDS),
                "total_tokens": 12 + len(WORDS),
            },
        }
    ).encode()


def _openai_sse() -> list[bytes]:
    base = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "bench",
    }
    chunks = [
        {
            **base,
            "choices": [
                {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
            ],
        }
    ]
    chunks += [
        {
            **base,
            "choices": [
                {"index": 0, "delta": {"content": (" " if i else "") + w}, "finish_reason": None}
            ],
        }
        for i, w in enumerate(WORDS)
    ]
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    chunks.append(
        {
            **base,
            "choices": [],
            "usage": {
                "prompt_tokens": 12,
                "completion_tokens": len(WORDS),
                "total_tokens": 12 + len(WORDS),
            },
        }
    )
    return [f"data: {json.dumps(c)}\n\n".encode() for c in chunks] + [b"data: [DONE]\n\n"]


def _ollama_json() -> bytes:
    return json.dumps(
        {
            "model": "bench",
            "created_at": "2026-01-01T00:00:00Z",
            "message": {"role": "assistant", "content": REPLY},
            "done": True,
            "done_reason": "stop",
            "prompt_eval_count": 12,
            "eval_count": len(WORDS),
        }
    ).encode()


def _ollama_ndjson() -> list[bytes]:
    """The reply word by word, as Ollama streams it, then the final line with the counts."""
    lines = [
        {
            "model": "bench",
            "created_at": "2026-01-01T00:00:00Z",
            "message": {"role": "assistant", "content": w if i == 0 else " " + w},
            "done": False,
        }
        for i, w in enumerate(WORDS)
    ]
    final = json.loads(_ollama_json())
    final["message"]["content"] = ""
    return [(json.dumps(line) + "\n").encode() for line in [*lines, final]]


def _anthropic_json() -> bytes:
    return json.dumps(
        {
            "id": "msg_bench",
            "type": "message",
            "role": "assistant",
            "model": "bench",
            "content": [{"type": "text", "text": REPLY}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 12, "output_tokens": len(WORDS)},
        }
    ).encode()


def _anthropic_sse() -> list[bytes]:
    def event(kind: str, **data: object) -> bytes:
        return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n".encode()

    start = json.loads(_anthropic_json()) | {"content": [], "stop_reason": None}
    out = [
        event("message_start", message=start),
        event("content_block_start", index=0, content_block={"type": "text", "text": ""}),
        event("ping"),
    ]
    for i, word in enumerate(WORDS):
        delta = {"type": "text_delta", "text": word if i == 0 else " " + word}
        out.append(event("content_block_delta", index=0, delta=delta))
    out += [
        event("content_block_stop", index=0),
        event(
            "message_delta",
            delta={"stop_reason": "end_turn", "stop_sequence": None},
            usage={"output_tokens": len(WORDS)},
        ),
        event("message_stop"),
    ]
    return out


def _embeddings(body: bytes) -> bytes:
    """One 8-dimensional vector per input (batched calls carry many inputs)."""
    given = json.loads(body)["input"]
    texts = [given] if isinstance(given, str) else given
    data = [
        {"object": "embedding", "index": i, "embedding": [0.125] * 8} for i in range(len(texts))
    ]
    answer = {
        "object": "list",
        "data": data,
        "model": "bench",
        "usage": {"prompt_tokens": 4 * len(texts), "total_tokens": 4 * len(texts)},
    }
    return _response("200 OK", "application/json", json.dumps(answer).encode())


CANNED = {
    ("POST", "/v1/chat/completions", False): _response(
        "200 OK", "application/json", _openai_json()
    ),
    ("POST", "/v1/chat/completions", True): _chunked("text/event-stream", _openai_sse()),
    ("GET", "/v1/models", False): _response(
        "200 OK", "application/json", b'{"object":"list","data":[{"id":"bench"}]}'
    ),
    ("POST", "/api/chat", False): _response("200 OK", "application/json", _ollama_json()),
    ("POST", "/api/chat", True): _chunked("application/x-ndjson", _ollama_ndjson()),
    ("GET", "/api/tags", False): _response(
        "200 OK", "application/json", b'{"models":[{"name":"bench"},{"name":"bench-ol"}]}'
    ),
    ("POST", "/v1/messages", False): _response("200 OK", "application/json", _anthropic_json()),
    ("POST", "/v1/messages", True): _chunked("text/event-stream", _anthropic_sse()),
}
NOT_FOUND = _response("404 Not Found", "application/json", b'{"error":"not found"}')


#: The "/gpu" prefix serves embeddings like one GPU worker: one call at a time, each
#: taking a fixed cost plus a little per input (batching exists to amortize the first).
GPU_CALL_S = 0.001
GPU_INPUT_S = 0.00002
_gpu_free_at = 0.0


def _gpu_delay(body: bytes) -> float:
    """Seconds from now until the one worker has answered this call."""
    global _gpu_free_at  # noqa: PLW0603 - the one worker's timeline, shared by all connections
    inputs = json.loads(body)["input"]
    count = len(inputs) if isinstance(inputs, list) else 1
    now = asyncio.get_running_loop().time()
    _gpu_free_at = max(now, _gpu_free_at) + GPU_CALL_S + GPU_INPUT_S * count
    return _gpu_free_at - now


class Upstream(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            method, path, _ = head.split(" ", 2)
            if path == "/gpu/v1/embeddings":
                answer = _embeddings(body)
                loop = asyncio.get_running_loop()
                loop.call_later(_gpu_delay(body), self.transport.write, answer)
                continue
            path = path.removeprefix("/gpu")
            if path == "/v1/embeddings":
                self.transport.write(_embeddings(body))
                continue
            stream = b'"stream": true' in body or b'"stream":true' in body
            self.transport.write(CANNED.get((method, path.split("?")[0], stream), NOT_FOUND))


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Upstream, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    asyncio.run(serve(int(sys.argv[1])))
