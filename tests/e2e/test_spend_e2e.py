"""Prices, costs, the spend ledger and budgets, end to end: the real router over HTTP.

Fake OpenAI-compatible upstreams report known usage; the cloud model is priced, the
local one is free. Budgets are checked through routing (which backend answers, the
503 contract, the key's 429) and the ledger through /admin/spend and `nexus spend`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from router.logs import JsonFormatter
from tests.conftest import wait_for
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.router import RouterHandle, run_router
from tests.fakes.servers import serve

#: 1000 prompt tokens of which 200 cached, 500 completion tokens.
USAGE = {
    "prompt_tokens": 1000,
    "completion_tokens": 500,
    "total_tokens": 1500,
    "prompt_tokens_details": {"cached_tokens": 200},
}
#: (800 x $2 + 200 x $0.5 + 500 x $8) per million tokens.
COST = 0.0057
ALICE, BOB = "sk-alice-0123456789abcdef", "sk-bob-0123456789abcdef01"

CONFIG = """\
version: 1
storage: "{storage}"
zones: [{{name: home}}, {{name: cloud}}]
providers:
  - name: local
    kind: openai
    base_url: {local}
    zone: home
    models: [{{name: small}}]
  - name: openai
    kind: openai
    base_url: {cloud}
    zone: cloud
    models:
      - {{name: gpt, price: {{input: 2, output: 8, cached_input: 0.5}}}}
      - {{name: emb, embeddings: true, price: {{input: 100000}}}}
routes:
  - {{model: smart, targets: [openai/gpt, local/small]}}
  - {{model: cloud-only, targets: [openai/gpt]}}
  - {{model: home, targets: [local/small], zone: home}}
auth:
  keys:
    - {{name: ops, role: admin, key: sk-admin-0123456789abcdef}}
    - {{name: alice, role: user, key: {alice}}}
    - {{name: bob, role: user, key: {bob}}}
budgets:
{budgets}
"""

ADMIN = {"authorization": "Bearer sk-admin-0123456789abcdef"}


@pytest.fixture
def upstreams() -> Iterator[tuple[str, str, FakeOpenAI]]:
    local = FakeOpenAI(models=("small",))
    cloud = FakeOpenAI(models=("gpt", "emb"), usage=USAGE)
    with serve(local) as local_url, serve(cloud) as cloud_url:
        yield f"{local_url}/v1", f"{cloud_url}/v1", cloud


def write(
    tmp_path: Path,
    upstreams: tuple[str, str, FakeOpenAI],
    budgets: str = "  []",
    storage: str = "sqlite:///nexus.db",
) -> Path:
    local, cloud, _ = upstreams
    path = tmp_path / "nexus.yaml"
    path.write_text(
        CONFIG.format(
            local=local, cloud=cloud, storage=storage, alice=ALICE, bob=BOB, budgets=budgets
        )
    )
    return path


def chat(router: RouterHandle, model: str, key: str = ALICE) -> httpx.Response:
    return router.http.post(
        "/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
        headers={"authorization": f"Bearer {key}"},
    )


def spend(router: RouterHandle, period: str = "day") -> dict[str, Any]:
    answer = router.http.get("/admin/spend", params={"period": period}, headers=ADMIN)
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()
    return data


def test_every_api_prices_its_answer_in_a_header_the_ledger_and_metrics(
    tmp_path: Path, upstreams: tuple[str, str, FakeOpenAI]
) -> None:
    with run_router(write(tmp_path, upstreams), health_probes=False) as router:
        answer = chat(router, "smart")
        assert answer.status_code == 200
        assert answer.headers["x-nexus-cost-usd"] == "0.0057"

        free = chat(router, "home")
        assert free.headers["x-nexus-backend"] == "local"
        assert free.headers["x-nexus-cost-usd"] == "0"

        embedded = router.http.post(
            "/v1/embeddings",
            json={"model": "emb", "input": ["a", "b"]},
            headers={"authorization": f"Bearer {ALICE}"},
        )
        assert embedded.status_code == 200, embedded.text
        assert embedded.headers["x-nexus-cost-usd"] == "0.2"  # 2 tokens x $100000 / 1M

        created = router.http.post(
            "/v1/responses",
            json={"model": "cloud-only", "input": "hi", "store": False},
            headers={"authorization": f"Bearer {BOB}"},
        )
        assert created.status_code == 200, created.text
        assert created.headers["x-nexus-cost-usd"] == "0.0057"

        report = spend(router)
        assert report["total_usd"] == pytest.approx(2 * COST + 0.2)
        assert report["requests"] == 4
        assert report["by_provider"] == {"local": 0.0, "openai": pytest.approx(2 * COST + 0.2)}
        assert report["by_zone"] == {"cloud": pytest.approx(2 * COST + 0.2), "home": 0.0}
        assert report["by_key"] == {"alice": pytest.approx(COST + 0.2), "bob": COST}
        assert report["by_route"]["cloud-only"] == COST
        assert report["by_model"]["openai/emb"] == pytest.approx(0.2)

        metrics = router.http.get("/metrics").text
        line = next(
            line
            for line in metrics.splitlines()
            if line.startswith("nexus_cost_usd_total{")
            and 'route="cloud-only"' in line
            and 'key="bob"' in line
        )
        assert 'provider="openai"' in line
        assert 'zone="cloud"' in line
        assert float(line.rsplit(" ", 1)[1]) == pytest.approx(COST)


def test_admin_spend_refuses_an_unknown_period(
    tmp_path: Path, upstreams: tuple[str, str, FakeOpenAI]
) -> None:
    with run_router(write(tmp_path, upstreams), health_probes=False) as router:
        answer = router.http.get("/admin/spend", params={"period": "year"}, headers=ADMIN)
        assert answer.status_code == 400
        assert "day, week, month" in answer.json()["message"]


ZONE_BUDGET = "  - {name: cloud-day, limit_usd: 0.01, period: day, zone: cloud}"


def test_a_spent_zone_budget_stops_the_cloud_while_local_keeps_serving(
    tmp_path: Path, upstreams: tuple[str, str, FakeOpenAI]
) -> None:
    cloud = upstreams[2]
    with run_router(
        write(tmp_path, upstreams, ZONE_BUDGET), health_probes=False, spend_sync_s=0.05
    ) as router:
        for _ in range(2):  # 0.0057 each: the second crosses the limit, and still finishes
            answer = chat(router, "smart")
            assert answer.headers["x-nexus-backend"] == "openai"
        sent = len(cloud.requests)

        moved = chat(router, "smart")
        assert moved.status_code == 200
        assert moved.headers["x-nexus-backend"] == "local"
        assert moved.headers["x-nexus-route-reason"] == "failover"

        refused = chat(router, "cloud-only")
        assert refused.status_code == 503
        error = refused.json()["error"]
        context = error["context"]
        assert context["rejection_reason"] == "budget_exhausted"
        assert context["budget"] == "cloud-day"
        assert context["limit_usd"] == 0.01
        assert context["spent_usd"] == pytest.approx(2 * COST)
        now = dt.datetime.now(dt.UTC)
        midnight = (now + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        assert context["resets_at"] == midnight.isoformat()
        retry = int(refused.headers["retry-after"])
        assert abs(retry - (midnight - now).total_seconds()) < 5
        assert len(cloud.requests) == sent  # the cloud was never called again

        report = spend(router)
        [budget] = report["budgets"]
        assert budget["exhausted"] is True
        assert budget["spent_usd"] == pytest.approx(2 * COST)

        explained = router.http.post(
            "/v1/route/explain", json={"model": "cloud-only"}, headers=ADMIN
        ).json()
        assert explained["rejection"]["rejection_reason"] == "budget_exhausted"
        [row] = explained["considered"]
        assert row["verdict"] == "budget_exhausted"
        assert row["budgets"][0]["name"] == "cloud-day"
        assert row["budgets"][0]["exhausted"] is True


KEY_BUDGET = "  - {name: alice-day, limit_usd: 0.005, period: day, key: alice}"


def test_a_spent_key_budget_answers_429_for_that_key_only(
    tmp_path: Path, upstreams: tuple[str, str, FakeOpenAI]
) -> None:
    with run_router(write(tmp_path, upstreams, KEY_BUDGET), health_probes=False) as router:
        assert chat(router, "cloud-only").status_code == 200  # under the limit: it finishes
        refused = chat(router, "home")  # even a free model: the key is out of budget
        assert refused.status_code == 429
        error = refused.json()["error"]
        assert error["code"] == "budget_exceeded"
        assert error["budget"] == "alice-day"
        assert error["limit_usd"] == 0.005
        assert error["spent_usd"] == pytest.approx(COST)
        assert "resets_at" in error
        assert int(refused.headers["retry-after"]) >= 1
        assert chat(router, "cloud-only", key=BOB).status_code == 200


def test_a_budget_period_resets_at_midnight_utc(
    tmp_path: Path, upstreams: tuple[str, str, FakeOpenAI]
) -> None:
    """An injected clock crosses midnight: the budget is open again."""
    now = [dt.datetime(2026, 12, 2, 23, 59, 0, tzinfo=dt.UTC).timestamp()]
    with run_router(
        write(tmp_path, upstreams, ZONE_BUDGET),
        health_probes=False,
        spend_sync_s=0.05,
        clock=lambda: now[0],
    ) as router:
        chat(router, "smart")
        chat(router, "smart")
        refused = chat(router, "cloud-only")
        assert refused.status_code == 503
        assert refused.json()["error"]["context"]["resets_at"] == "2026-12-03T00:00:00+00:00"
        assert refused.headers["retry-after"] == "60"

        now[0] += 120  # 00:01 the next day
        wait_for(lambda: chat(router, "cloud-only").status_code == 200, what="the budget to reopen")
        assert spend(router)["budgets"][0]["spent_usd"] == pytest.approx(COST)


def test_spend_survives_a_restart_and_nexus_spend_prints_it(
    tmp_path: Path, upstreams: tuple[str, str, FakeOpenAI]
) -> None:
    path = write(tmp_path, upstreams, ZONE_BUDGET)
    with run_router(path, health_probes=False) as router:
        chat(router, "smart")
        chat(router, "smart")
    with run_router(path, health_probes=False) as router:
        assert chat(router, "cloud-only").status_code == 503  # spent before the restart
        assert spend(router)["total_usd"] == pytest.approx(2 * COST)

    printed = subprocess.run(
        [sys.executable, "-m", "router", "spend", "-c", str(path), "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(printed.stdout)
    assert report["total_usd"] == pytest.approx(2 * COST)
    assert report["by_key"] == {"alice": pytest.approx(2 * COST)}
    assert report["budgets"][0]["exhausted"] is True

    text = subprocess.run(
        [sys.executable, "-m", "router", "spend", "-c", str(path), "--period", "month"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "spend this month" in text
    assert "$0.011400 over 2 request(s)" in text
    assert "budget cloud-day (zone cloud, per day): $0.011400 of $0.01 [SPENT]" in text


def test_two_routers_sharing_postgresql_see_one_spend(
    tmp_path: Path, upstreams: tuple[str, str, FakeOpenAI], postgres_url: str
) -> None:
    path = write(tmp_path, upstreams, ZONE_BUDGET, storage=postgres_url)
    with (
        run_router(path, health_probes=False, spend_sync_s=0.05) as a,
        run_router(path, health_probes=False, spend_sync_s=0.05) as b,
    ):
        chat(a, "smart")
        chat(a, "smart")  # spent on A; A writes it within spend_sync_s
        wait_for(
            lambda: spend(b)["total_usd"] == pytest.approx(2 * COST), what="B to see A's spend"
        )
        wait_for(
            lambda: chat(b, "smart").headers["x-nexus-backend"] == "local",
            what="B to learn that A spent the budget",
        )
        assert chat(b, "cloud-only").status_code == 503


#: The fake streams 9 prompt tokens and one completion token per word of its 5-word reply.
STREAM_COST = (9 * 2 + 5 * 8) / 1e6


def test_a_stream_is_priced_without_showing_the_client_a_chunk_it_did_not_ask_for(
    tmp_path: Path, upstreams: tuple[str, str, FakeOpenAI]
) -> None:
    cloud = upstreams[2]
    with run_router(write(tmp_path, upstreams), health_probes=False) as router:
        client = openai.OpenAI(base_url=f"{router.url}/v1", api_key=ALICE, max_retries=0)
        chunks = list(
            client.chat.completions.create(
                model="cloud-only", messages=[{"role": "user", "content": "hi"}], stream=True
            )
        )
        assert cloud.requests[-1]["stream_options"] == {"include_usage": True}  # asked upstream
        assert all(chunk.usage is None for chunk in chunks)  # ... and not shown
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == (
            cloud.reply
        )
        # a stream is priced once it ended, just after the client read its last bytes
        wait_for(
            lambda: spend(router)["by_key"] == {"alice": pytest.approx(STREAM_COST)},
            what="the stream's cost in the ledger",
        )

        asked = list(
            client.chat.completions.create(
                model="cloud-only",
                messages=[{"role": "user", "content": "hi"}],
                stream=True,
                stream_options={"include_usage": True},
            )
        )
        usage = asked[-1].usage
        assert usage is not None
        assert usage.prompt_tokens == 9
        assert usage.model_extra == {"cost_usd": pytest.approx(STREAM_COST)}
        wait_for(
            lambda: spend(router)["total_usd"] == pytest.approx(2 * STREAM_COST),
            what="both streams' cost in the ledger",
        )


def test_a_translated_stream_is_priced_from_its_provider_s_usage(tmp_path: Path) -> None:
    """Anthropic's stream usage (15 prompt tokens, 3 of them cached; 6 output) is priced."""
    claude = FakeAnthropic()
    with serve(claude) as url:
        path = tmp_path / "nexus.yaml"
        path.write_text(
            "version: 1\nproviders:\n  - name: claude\n    kind: anthropic\n"
            f"    base_url: {url}/v1\n    api_key: sk-ant-test\n"
            "    models: [{name: claude-x, price: {input: 3, output: 15, cached_input: 0.3}}]\n"
        )
        with run_router(path, health_probes=False) as router:
            client = openai.OpenAI(base_url=f"{router.url}/v1", api_key="unused", max_retries=0)
            chunks = list(
                client.chat.completions.create(
                    model="claude-x", messages=[{"role": "user", "content": "hi"}], stream=True
                )
            )
            assert all(chunk.usage is None for chunk in chunks)
            report = spend(router)
    assert report["total_usd"] == pytest.approx((12 * 3 + 3 * 0.3 + 6 * 15) / 1e6)
    assert report["by_key"] == {"(none)": report["total_usd"]}


def test_an_answer_without_usage_is_priced_from_an_estimate_and_says_so(
    tmp_path: Path, upstreams: tuple[str, str, FakeOpenAI], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="nexus.access")
    cloud = upstreams[2]
    cloud.report_usage = False
    with run_router(write(tmp_path, upstreams), health_probes=False) as router:
        answer = router.http.post(
            "/v1/chat/completions",
            json={"model": "cloud-only", "messages": [{"role": "user", "content": "x" * 400}]},
            headers={"authorization": f"Bearer {ALICE}", "x-request-id": "estimated-1"},
        )
        assert answer.status_code == 200
        # 400 characters in: 100 tokens x $2; 28 characters out: 7 tokens x $8 (per million)
        assert answer.headers["x-nexus-cost-usd"] == "0.000256"
        assert answer.headers["x-nexus-cost-estimated"] == "true"
        report = spend(router)
    assert report["estimated_requests"] == 1
    assert report["estimated_usd"] == pytest.approx(0.000256)
    lines = [
        json.loads(JsonFormatter().format(r)) for r in caplog.records if r.name == "nexus.access"
    ]
    line = next(line for line in lines if line.get("request_id") == "estimated-1")
    assert line["cost_usd"] == pytest.approx(0.000256)
    assert line["cost_estimated"] is True


def test_a_responses_stream_reports_its_cost_in_the_final_usage(
    tmp_path: Path, upstreams: tuple[str, str, FakeOpenAI]
) -> None:
    with run_router(write(tmp_path, upstreams), health_probes=False) as router:
        client = openai.OpenAI(base_url=f"{router.url}/v1", api_key=BOB, max_retries=0)
        with client.responses.stream(model="cloud-only", input="hi") as stream:
            final = stream.get_final_response()
        assert final.usage is not None
        assert final.usage.model_extra == {"cost_usd": pytest.approx(STREAM_COST)}
        wait_for(
            lambda: spend(router)["by_key"] == {"bob": pytest.approx(STREAM_COST)},
            what="the stream's cost in the ledger",
        )


STREAMS_CONFIG = """\
version: 1
storage: "sqlite:///nexus.db"
providers:
  - name: an
    kind: anthropic
    base_url: {an}
    api_key: sk-ant-test-key-0123456789
    models: [{{name: claude-x, price: {{input: 1000, output: 2000, cached_input: 100}}}}]
  - name: oa
    kind: openai
    base_url: {oa}/v1
    models: [{{name: gpt, price: {{input: 2, output: 8, cached_input: 0.5}}}}]
  - name: ol
    kind: ollama
    base_url: {ol}
    models: [{{name: llama3, price: {{input: 1000, output: 2000}}}}]
"""


def test_streams_of_the_messages_and_ollama_apis_are_priced(tmp_path: Path) -> None:
    """Passed through or translated, a priced stream's usage reaches the ledger: Claude
    Code's stream to Anthropic is the bill a budget is for."""
    from tests.fakes.ollama_upstream import FakeOllama

    anthropic = FakeAnthropic(api_key="sk-ant-test-key-0123456789")
    openai_fake = FakeOpenAI(models=("gpt",))  # streams report 9 prompt, 5 completion tokens
    with serve(anthropic) as an, serve(openai_fake) as oa, serve(FakeOllama()) as ol:
        path = tmp_path / "nexus.yaml"
        path.write_text(STREAMS_CONFIG.format(an=an, oa=oa, ol=ol))
        with run_router(path, health_probes=False) as router:
            for model in ("claude-x", "gpt"):  # passed through, translated
                body = {
                    "model": model,
                    "max_tokens": 50,
                    "stream": True,
                    "messages": [{"role": "user", "content": "hi"}],
                }
                streamed = router.http.post("/v1/messages", json=body)
                assert streamed.status_code == 200
                assert "message_stop" in streamed.text
            for model in ("llama3", "gpt"):  # passed through, translated
                body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
                streamed = router.http.post("/api/chat", json=body)
                assert streamed.status_code == 200
                assert '"done":true' in streamed.text.replace(" ", "")

            def ledger() -> dict[str, Any] | None:
                report = spend(router)
                return report if report["requests"] == 4 else None

            report = wait_for(ledger, what="the four streams in the ledger")
    by_provider = report["by_provider"]
    # Anthropic: 12 input + 3 cache reads, 6 output: (12 x 1000 + 3 x 100 + 6 x 2000) / 1M
    assert by_provider["an"] == pytest.approx(0.0243)
    assert by_provider["oa"] == pytest.approx(2 * (9 * 2 + 5 * 8) / 1e6)
    # Ollama's final line: 11 prompt, 5 completion tokens
    assert by_provider["ol"] == pytest.approx((11 * 1000 + 5 * 2000) / 1e6)
