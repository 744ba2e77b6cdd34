"""Files a client sends (Responses input_file, Chat file parts) reach the model or are refused
clearly — never silently dropped (the upstream once got empty content and said `completed`)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.e2e.test_responses_e2e import stack
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.ollama_upstream import FakeOllama

KEY = "sk-ant-test-key-0123456789"
NOTES = "# Notes\n\nThe launch code is *swordfish*.\n"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def data_url(media_type: str, data: bytes) -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


def file_input(**file: Any) -> list[dict[str, Any]]:
    return [
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "Read this."},
                {"type": "input_file", **file},
            ],
        }
    ]


def test_a_text_file_is_inlined_for_every_provider(tmp_path: Path) -> None:
    ollama = FakeOllama()
    with stack(tmp_path, ol=ollama) as (_, client, _):
        client.responses.create(
            model="llama3",
            input=file_input(
                filename="notes.md", file_data=data_url("text/markdown", NOTES.encode())
            ),  # type: ignore[arg-type]
        )
        sent = ollama.requests[-1]["messages"][0]["content"]
        assert "Read this." in sent
        assert '<file name="notes.md">' in sent
        assert "swordfish" in sent
        # Chat Completions' own file part, bare base64 and a type guessed from the name
        client.chat.completions.create(
            model="llama3",
            messages=[
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "file",
                            "file": {
                                "filename": "data.csv",
                                "file_data": base64.b64encode(b"a,b\n1,2\n").decode(),
                            },
                        }
                    ],
                }
            ],
        )
        assert "a,b\n1,2" in ollama.requests[-1]["messages"][0]["content"]


def test_a_pdf_goes_natively_to_a_model_that_reads_documents(tmp_path: Path) -> None:
    anthropic = FakeAnthropic(api_key=KEY)
    with stack(tmp_path, an=anthropic) as (_, client, _):
        client.responses.create(
            model="claude-x",
            input=file_input(filename="spec.pdf", file_data=data_url("application/pdf", PDF)),  # type: ignore[arg-type]
        )
        blocks = anthropic.requests[-1]["messages"][0]["content"]
        document = next(b for b in blocks if b["type"] == "document")
        assert document["source"] == {
            "type": "base64",
            "media_type": "application/pdf",
            "data": base64.b64encode(PDF).decode(),
        }
        assert document["title"] == "spec.pdf"


def test_a_pdf_is_a_capability_a_model_without_it_is_refused_for(tmp_path: Path) -> None:
    ollama = FakeOllama()
    with stack(tmp_path, ol=ollama) as (router, _, _):
        body = {
            "model": "llama3",
            "input": file_input(filename="spec.pdf", file_data=data_url("application/pdf", PDF)),
        }
        refused = router.http.post("/v1/responses", json=body)
        assert refused.status_code == 503
        assert refused.json()["error"]["context"]["required_capability"] == "documents"
        assert refused.headers["x-should-retry"] == "false"
        assert not ollama.requests


@pytest.mark.parametrize(
    ("file", "param", "words"),
    [
        ({"file_id": "file-abc"}, "input.file_id", "no Files API"),
        ({"file_url": "http://example.com/a.pdf"}, "input.file_url", "does not fetch"),
        (
            {"filename": "a.zip", "file_data": data_url("application/zip", b"PK")},
            "input.file_data",
            "application/zip",
        ),
        (
            {"filename": "a.txt", "file_data": "data:text/plain;base64,!!!"},
            "input.file_data",
            "not valid base64",
        ),
        (
            {"filename": "a.txt", "file_data": data_url("text/plain", b"\xff\xfe")},
            "input.file_data",
            "not UTF-8",
        ),
        ({"filename": "a.txt"}, "input.file_data", "required"),
    ],
)
def test_files_no_provider_can_read_are_a_clear_400(
    tmp_path: Path, file: dict[str, Any], param: str, words: str
) -> None:
    ollama = FakeOllama()
    with stack(tmp_path, ol=ollama) as (_, client, _):
        with pytest.raises(openai.BadRequestError, match=words) as info:
            client.responses.create(model="llama3", input=file_input(**file))  # type: ignore[arg-type]
        assert info.value.body["param"] == param  # type: ignore[index]
        assert not ollama.requests
