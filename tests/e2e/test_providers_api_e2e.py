"""The provider admin API: every status and error code, each checked against the file on disk."""

from __future__ import annotations

import contextlib
import difflib
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import wait_for
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.router import RouterHandle, run_router
from tests.fakes.servers import serve

SECRET = "sk-live-abcdefghijklmnop1234"
API = "/api/v1/llm-provider"

CONFIG = """\
# Team router config. Hand-written; comments must survive API edits.
version: 1

zones:
  - name: home      # the homelab
  - name: cloud

providers:
  # the GPU box under the desk
  - name: gpu-box
    kind: ollama
    base_url: http://127.0.0.1:11434   # do not change without telling Sam
    zone: home
    models:
      - name: llama3
        tiers: {{reasoning: 7, coding: 6}}

  - name: "cloud-openai"
    kind: openai
    base_url: '{cloud}'
    api_key: ${{OPENAI_KEY}}
    zone: cloud
    models:
      - {{name: gpt-x, tools: true, context_window: 128000}}

routes:
  - model: chat          # what Open WebUI asks for
    targets: [gpu-box/llama3, cloud-openai/gpt-x]
    zone: home
    overflow: fresh-only
"""


@contextlib.contextmanager
def admin(
    tmp_path: Path, *, extra: str = "", **options: Any
) -> Iterator[tuple[RouterHandle, Path, FakeOpenAI]]:
    upstream = FakeOpenAI(reply="from the new provider", models=("gpt-x", "new-model"))
    with serve(upstream) as url:
        path = tmp_path / "nexus.yaml"
        path.write_text(CONFIG.format(cloud=f"{url}/v1") + extra)
        path.chmod(0o640)
        options.setdefault("health_probes", False)
        with run_router(path, env={"OPENAI_KEY": SECRET}, **options) as router:
            yield router, path, upstream


def only_inserted(before: str, after: str) -> str:
    """Assert `after` is `before` with one block inserted; return the block."""
    ops = [
        op
        for op in difflib.SequenceMatcher(
            None, before.splitlines(True), after.splitlines(True)
        ).get_opcodes()
        if op[0] != "equal"
    ]
    assert len(ops) == 1, ops
    tag, _i1, _i2, j1, j2 = ops[0]
    assert tag == "insert", ops
    return "".join(after.splitlines(True)[j1:j2])


def changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    diff = difflib.ndiff(before.splitlines(), after.splitlines())
    return [(line[0], line[2:]) for line in diff if line[:1] in {"-", "+"}]


def test_list_get_masks_secrets_and_sets_etags(tmp_path: Path) -> None:
    with admin(tmp_path) as (router, _, _):
        listed = router.http.get(f"{API}/openai")
        assert listed.status_code == 200
        assert listed.headers["etag"].startswith('"')
        [provider] = listed.json()["providers"]
        assert provider["api_key"] == "${OPENAI_KEY}"  # the reference, never the value
        assert provider["name"] == "cloud-openai"
        assert provider["models"][0] == {
            "name": "gpt-x",
            "tools": True,
            "context_window": 128000,
            "tiers": {"reasoning": 0, "coding": 0},
            "vision": False,
            "embeddings": False,
            "reasoning": False,
            "images": False,
            "documents": False,
        }
        one = router.http.get(f"{API}/openai/{provider['id']}")
        assert one.json() == provider
        assert one.headers["etag"]
        assert router.http.get(f"{API}/ollama").json()["providers"][0]["name"] == "gpu-box"
        empty = router.http.get(f"{API}/anthropic")
        assert (empty.status_code, empty.json()) == (
            404,
            {
                "message": "No providers configured",
                "error_code": "NO_PROVIDERS_FOUND",
                "details": {"kind": "anthropic"},
            },
        )
        missing = router.http.get(f"{API}/openai/550e8400-e29b-41d4-a716-446655440001")
        assert missing.status_code == 404
        assert missing.json()["error_code"] == "PROVIDER_NOT_FOUND"
        wrong_kind = router.http.get(f"{API}/ollama/{provider['id']}")
        assert wrong_kind.status_code == 404
        assert SECRET not in listed.text + one.text


def test_create_appends_one_block_and_is_served_at_once(tmp_path: Path) -> None:
    with admin(tmp_path) as (router, path, _upstream):
        before = path.read_text()
        created = router.http.post(
            f"{API}/openai",
            json={
                "name": "OpenAI Production",
                "base_url": upstream_url(router, "cloud-openai"),
                "api_key": "sk-plain-0123456789abcdef",
                "description": "Primary OpenAI provider",
                "zone": "cloud",
                "models": [{"name": "new-model", "tiers": {"reasoning": 5}}],
            },
        )
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["api_key"] == "sk-…cdef"
        assert body["created_at"] == body["updated_at"]
        assert created.headers["location"].endswith(body["id"])
        block = only_inserted(before, path.read_text())
        assert f"id: {body['id']}" in block
        assert "name: OpenAI Production" in block
        assert "tiers: {reasoning: 5}" in block
        assert (path.stat().st_mode & 0o777) == 0o640  # permissions survive
        # served without a restart, by the provider just created
        response = router.http.post(
            "/v1/chat/completions",
            json={"model": "new-model", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert response.status_code == 200
        assert response.headers["x-nexus-backend"] == "OpenAI Production"
        # the watcher sees the API's own write as a no-op
        wait_for(lambda: router.status()["reloads"]["unchanged"] >= 1, what="watcher event")
        status = router.status()
        assert status["reloads"]["succeeded"] == 1
        assert status["version"] == router.holder.current.version


def upstream_url(router: RouterHandle, name: str) -> str:
    return router.holder.current.providers[name].base_url


@pytest.mark.parametrize(
    ("body", "status", "code", "details"),
    [
        pytest.param(
            {"name": "x"}, 400, "MISSING_FIELD", {"field": "base_url"}, id="missing base_url"
        ),
        pytest.param(
            {"base_url": "http://x"}, 400, "MISSING_FIELD", {"field": "name"}, id="missing name"
        ),
        pytest.param(
            {"name": "x", "base_url": "invalid-url"},
            422,
            "INVALID_URL",
            {"field": "base_url", "value": "invalid-url"},
            id="invalid url",
        ),
        pytest.param(
            {"name": "x", "base_url": "ftp://host/"},
            422,
            "INVALID_URL",
            {"field": "base_url", "value": "ftp://host/"},
            id="not http",
        ),
        pytest.param(
            {"name": "cloud-openai", "base_url": "http://x"},
            409,
            "PROVIDER_NAME_EXISTS",
            None,
            id="name exists",
        ),
        pytest.param(
            {"name": "x", "base_url": "http://x", "timeout_s": "soon"},
            422,
            "CONFIG_INVALID",
            None,
            id="wrong type",
        ),
        pytest.param(
            {"name": "x", "base_url": "http://x", "max_concurency": 2},
            422,
            "CONFIG_INVALID",
            None,
            id="unknown field",
        ),
        pytest.param(
            {"name": "x", "base_url": "http://x", "zone": "moon"},
            422,
            "CONFIG_INVALID",
            None,
            id="undeclared zone",
        ),
    ],
)
def test_create_errors_write_nothing(
    tmp_path: Path, body: dict[str, Any], status: int, code: str, details: dict[str, Any] | None
) -> None:
    with admin(tmp_path) as (router, path, _):
        before = path.read_bytes()
        response = router.http.post(f"{API}/openai", json=body)
        assert response.status_code == status, response.text
        assert response.json()["error_code"] == code
        if details is not None:
            assert response.json()["details"] == details
        if code == "PROVIDER_NAME_EXISTS":
            existing = router.holder.current.providers["cloud-openai"].id
            assert response.json()["details"] == {
                "existing_provider_id": existing,
                "name": "cloud-openai",
            }
        if body.get("max_concurency"):
            assert "did you mean 'max_concurrency'" in response.text
        assert path.read_bytes() == before


def test_size_and_media_type_limits(tmp_path: Path) -> None:
    with admin(tmp_path) as (router, _, _):
        big = router.http.post(
            f"{API}/openai",
            content=b"{" + b" " * (1024 * 1024) + b"}",
            headers={"content-type": "application/json"},
        )
        assert big.status_code == 413
        assert big.json() == {
            "message": "Request body exceeds maximum size limit of 1048576 bytes",
            "error_code": "PAYLOAD_TOO_LARGE",
            "details": {"max_size_bytes": 1048576},
        }
        text = router.http.post(
            f"{API}/openai",
            content=b"name=x",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert text.status_code == 415
        assert text.json()["error_code"] == "UNSUPPORTED_MEDIA_TYPE"


def test_update_changes_only_that_block_and_keeps_references(tmp_path: Path) -> None:
    with admin(tmp_path) as (router, path, _):
        entry = router.holder.current.providers["cloud-openai"]
        before = path.read_text()
        got = router.http.get(f"{API}/openai/{entry.id}")
        updated = router.http.put(
            f"{API}/openai/{entry.id}",
            headers={"if-match": got.headers["etag"]},
            json={**got.json(), "description": "Updated OpenAI provider", "max_concurrency": 8},
        )
        assert updated.status_code == 200, updated.text
        after = path.read_text()
        assert changed_lines(before, after) == [
            ("+", f"  - id: {entry.id}"),  # pinned, so a rename keeps the id
            ("-", '  - name: "cloud-openai"'),
            ("+", '    name: "cloud-openai"'),  # its quoting kept
            ("+", "    description: Updated OpenAI provider"),
            ("+", "    max_concurrency: 8"),
            ("+", f"    updated_at: '{updated.json()['updated_at']}'"),
        ]
        assert "api_key: ${OPENAI_KEY}" in after  # the masked value sent back changed nothing
        assert updated.json()["api_key"] == "${OPENAI_KEY}"
        stale = router.http.put(
            f"{API}/openai/{entry.id}",
            headers={"if-match": got.headers["etag"]},
            json={"description": "lost update"},
        )
        assert stale.status_code == 412
        assert stale.json()["error_code"] == "PRECONDITION_FAILED"
        unchanged = path.read_text()
        renamed = router.http.put(f"{API}/openai/{entry.id}", json={"name": "openai-main"})
        assert renamed.status_code == 422  # a route still names it: nothing is written
        assert "target 'cloud-openai/gpt-x' names unknown provider 'cloud-openai'" in renamed.text
        assert path.read_text() == unchanged
        clash = router.http.put(f"{API}/openai/{entry.id}", json={"name": "gpu-box"})
        assert clash.status_code == 409
        assert (
            clash.json()["details"]["existing_provider_id"]
            == router.holder.current.providers["gpu-box"].id
        )
        assert "# what Open WebUI asks for" in path.read_text()
        assert router.http.put(f"{API}/openai/nope", json={"name": "x"}).status_code == 404


def test_delete_refuses_providers_in_use_then_removes_the_block(tmp_path: Path) -> None:
    extra = (
        "  - name: spare\n    kind: openai\n    base_url: http://127.0.0.1:9/v1\n"
        "    models: [{name: spare-model}]\n"
    )
    with admin(tmp_path) as (router, path, _):
        text = path.read_text().replace("\nroutes:", extra + "\nroutes:")
        path.write_text(text)
        assert router.http.post("/admin/config/reload").status_code == 200
        cloud = router.holder.current.providers["cloud-openai"].id
        in_use = router.http.delete(f"{API}/openai/{cloud}")
        assert in_use.status_code == 409
        assert in_use.json()["details"] == {"provider_id": cloud, "routes": ["chat"]}
        spare = router.holder.current.providers["spare"].id
        before = path.read_text()
        assert (
            router.http.delete(f"{API}/openai/{spare}", headers={"if-match": '"nope"'}).status_code
            == 412
        )
        gone = router.http.delete(f"{API}/openai/{spare}")
        assert gone.status_code == 204
        assert [kind for kind, _ in changed_lines(before, path.read_text())] == ["-"] * 4
        assert "spare" not in router.holder.current.providers
        assert router.http.delete(f"{API}/openai/{spare}").status_code == 404


def test_a_write_racing_a_human_edit_gets_409_and_the_edit_stays(tmp_path: Path) -> None:
    with admin(tmp_path, watch=False) as (router, path, _):
        human = path.read_text().replace("# the GPU box under the desk", "# moved to the rack")
        path.write_text(human)  # saved, not yet loaded by the router
        response = router.http.post(f"{API}/openai", json={"name": "x", "base_url": "http://x/v1"})
        assert response.status_code == 409
        assert response.json()["error_code"] == "CONFIG_CHANGED_ON_DISK"
        assert path.read_text() == human


def test_twenty_concurrent_creates_all_land(tmp_path: Path) -> None:
    with admin(tmp_path) as (router, path, _):

        def create(i: int) -> int:
            return router.http.post(
                f"{API}/ollama",
                json={
                    "name": f"box-{i}",
                    "base_url": f"http://10.0.0.{i}:11434",
                    "models": [{"name": f"m{i}"}],
                },
            ).status_code

        with ThreadPoolExecutor(20) as pool:
            statuses = list(pool.map(create, range(20)))
        assert statuses == [201] * 20
        names = {p["name"] for p in router.http.get(f"{API}/ollama").json()["providers"]}
        assert names == {"gpu-box", *(f"box-{i}" for i in range(20))}
        assert all(f"name: box-{i}\n" in path.read_text() for i in range(20))


@pytest.mark.parametrize("step", ["exchange", "replace"])
def test_failed_replace_leaves_the_original_intact(tmp_path: Path, step: str) -> None:
    def broken(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    # The atomic exchange where the platform has one, else the plain replace.
    steps: dict[str, Any] = (
        {"exchange": broken} if step == "exchange" else {"exchange": None, "replace": broken}
    )
    with admin(tmp_path, **steps) as (router, path, _):
        before = path.read_bytes()
        response = router.http.post(f"{API}/openai", json={"name": "x", "base_url": "http://x/v1"})
        assert response.status_code == 503
        assert response.json()["error_code"] == "STORE_UNAVAILABLE"
        assert "No space left on device" in response.json()["details"]["reason"]
        assert path.read_bytes() == before
        assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # no temp file left
        assert "x" not in router.holder.current.providers


def test_read_only_mode(tmp_path: Path) -> None:
    with admin(tmp_path, extra="admin: {write_back: false}\n") as (router, path, _):
        before = path.read_bytes()
        response = router.http.post(f"{API}/openai", json={"name": "x", "base_url": "http://x/v1"})
        assert response.status_code == 409
        assert response.json()["error_code"] == "CONFIG_READ_ONLY"
        assert router.http.get(f"{API}/openai").status_code == 200
        assert path.read_bytes() == before


def test_provider_models_merges_config_metadata(tmp_path: Path) -> None:
    with admin(tmp_path) as (router, _, _):
        cloud = router.holder.current.providers["cloud-openai"].id
        listed = router.http.get(f"{API}/openai/{cloud}/models")
        assert listed.status_code == 200
        assert listed.json() == {
            "provider_id": cloud,
            "models": [
                {
                    "id": "gpt-x",
                    "name": "gpt-x",
                    "description": "",
                    "context_length": 128000,
                    "supports_streaming": True,
                    "supports_functions": True,
                    "configured": True,
                    "tiers": {"reasoning": 0, "coding": 0},
                },
                {
                    "id": "new-model",
                    "name": "new-model",
                    "description": "",
                    "context_length": None,
                    "supports_streaming": True,
                    "supports_functions": False,
                    "configured": False,
                    "tiers": None,
                },
            ],
        }


@contextlib.contextmanager
def full_backlog() -> Iterator[int]:
    """A port whose accept queue is full, so new connections time out (SYNs are dropped)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(8):
        client = socket.socket()
        client.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            client.connect(("127.0.0.1", port))
        fillers.append(client)
    try:
        yield port
    finally:
        for s in [*fillers, server]:
            s.close()


def test_provider_models_errors(tmp_path: Path) -> None:
    unauthorized = FakeOpenAI(probe_status=401)
    garbage = FakeOpenAI(probe_status=200)
    slow = FakeOpenAI(models=("a",), gate=threading.Event())
    with (
        serve(unauthorized) as u401,
        serve(_Garbage()) as ugarbage,
        serve(_Slow()) as uslow,
        full_backlog() as backlog,
    ):
        providers = {
            "auth": f"{u401}/v1",
            "garbage": ugarbage,
            "slow": uslow,
            "gone": "http://127.0.0.1:9",
            "stuck": f"http://127.0.0.1:{backlog}",
        }
        extra = "".join(
            f'  - {{name: {n}, kind: openai, base_url: "{u}", timeout_s: 0.5}}\n'
            for n, u in providers.items()
        )
        with admin(tmp_path) as (router, path, _):
            path.write_text(path.read_text().replace("\nroutes:", extra + "\nroutes:"))
            assert router.http.post("/admin/config/reload").status_code == 200

            def models(name: str) -> httpx.Response:
                entry = router.holder.current.providers[name]
                return router.http.get(f"{API}/openai/{entry.id}/models")

            expected = {
                "auth": (422, "PROVIDER_CONFIG_INVALID"),
                "garbage": (502, "INVALID_PROVIDER_RESPONSE"),
                "slow": (408, "PROVIDER_TIMEOUT"),
                "gone": (503, "PROVIDER_UNAVAILABLE"),
                "stuck": (504, "GATEWAY_TIMEOUT"),
            }
            got = {n: (r.status_code, r.json()["error_code"]) for n in expected if (r := models(n))}
            assert got == expected
            assert models("slow").json()["details"] == {
                "provider_id": router.holder.current.providers["slow"].id,
                "timeout_seconds": 0.5,
            }
    del garbage, slow


class _Garbage:
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": b"<html>not json</html>"})


class _Slow:
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        import asyncio

        await asyncio.sleep(2)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


def test_secrets_never_leave(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with admin(tmp_path) as (router, path, _):
        created = router.http.post(
            f"{API}/openai",
            json={
                "name": "keyed",
                "base_url": "http://127.0.0.1:9/v1",
                "api_key": "sk-secret-zyxwvu987654",
            },
        )
        assert created.status_code == 201
        texts = [
            created.text,
            router.http.get(f"{API}/openai").text,
            router.http.get("/admin/providers").text,
            router.http.get("/admin/config").text,
        ]
        assert not any("sk-secret-zyxwvu987654" in t or SECRET in t for t in texts)
        assert "sk-secret-zyxwvu987654" in path.read_text()  # the client asked for it in the file
        assert "sk-secret-zyxwvu987654" not in caplog.text
