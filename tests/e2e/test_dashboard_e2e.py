"""The dashboard (/ui) over real HTTP: access, sessions, CSRF, headers, data, never a secret."""

from __future__ import annotations

import contextlib
import hashlib
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import wait_for
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.router import RouterHandle, run_router
from tests.fakes.servers import serve

ADMIN = "nx-admin-key-5c1d7e9a3b2f4d60"
ALICE = "nx-alice-key-9e8d7c6b5a4f3e21"
PROVIDER_KEY = "sk-provider-secret-4f3a9b2c1d0e"
HI = [{"role": "user", "content": "the secret prompt text"}]

CONFIG = """\
version: 1
{auth}
zones: [{{name: home}}, {{name: cloud}}]
providers:
  - {{name: gpu-box, kind: openai, base_url: "{home}", zone: home,
     models: [{{name: small, tiers: {{reasoning: 4}}}}]}}
  - {{name: cloud, kind: openai, base_url: "{cloud}", api_key: "${{CLOUD_KEY}}", zone: cloud,
     max_concurrency: 8, models: [{{name: big, tiers: {{reasoning: 8}}, tools: true}}]}}
routes:
  - {{model: chat, targets: [gpu-box/small, cloud/big], zone: home, overflow: fresh-only}}
routing:
  health: {{interval_s: 0.05, failure_threshold: 1}}
"""
AUTH = f"""\
auth:
  keys:
    - {{name: ops, role: admin, sha256: {{admin_sha}}}}
    - {{name: alice, role: user, sha256: {hashlib.sha256(ALICE.encode()).hexdigest()}}}
"""


@contextlib.contextmanager
def dashboard(
    tmp_path: Path, *, keys: bool = True
) -> Iterator[tuple[RouterHandle, FakeOpenAI, Path]]:
    home = FakeOpenAI(reply="home", models=("small",))
    cloud = FakeOpenAI(reply="cloud", models=("big",))
    with serve(home) as home_url, serve(cloud) as cloud_url:
        path = tmp_path / "nexus.yaml"
        auth = AUTH.replace("{admin_sha}", hashlib.sha256(ADMIN.encode()).hexdigest())
        path.write_text(
            CONFIG.format(auth=auth if keys else "", home=f"{home_url}/v1", cloud=f"{cloud_url}/v1")
        )
        with run_router(path, env={"CLOUD_KEY": PROVIDER_KEY}) as router:
            yield router, home, path


def session(http: httpx.Client) -> dict[str, object]:
    body: dict[str, object] = http.get("/ui/api/session").json()
    return body


def login(router: RouterHandle, key: str) -> httpx.Response:
    csrf = str(session(router.http)["csrf"])
    return router.http.post("/ui/api/login", json={"key": key}, headers={"x-nexus-csrf": csrf})


def test_without_keys_the_dashboard_is_open_and_shows_the_topology(tmp_path: Path) -> None:
    with dashboard(tmp_path, keys=False) as (router, _, _):
        assert session(router.http)["auth_required"] is False
        state = router.http.get("/ui/api/state")
        assert state.status_code == 200
        zones = state.json()["zones"]
        assert [z["name"] for z in zones] == ["home", "cloud"]  # most private first
        cloud = zones[1]["providers"][0]
        assert (cloud["name"], cloud["kind"], cloud["max_concurrency"]) == ("cloud", "openai", 8)
        assert cloud["models"] == [
            {
                "name": "big",
                "tiers": {"reasoning": 8, "coding": 0},
                "context_window": None,
                "capabilities": ["tools"],
                "discovered": False,
            }
        ]
        route = next(r for r in state.json()["routes"] if r["model"] == "chat")
        assert [t["target"] for t in route["targets"]] == ["gpu-box/small", "cloud/big"]
        assert (route["zone"], route["overflow"]) == ("home", "fresh-only")
        assert route["serving"] == {"target": "gpu-box/small", "reason": "primary"}


def test_the_page_is_served_from_the_package_with_strict_security_headers(tmp_path: Path) -> None:
    with dashboard(tmp_path) as (router, _, _):
        page = router.http.get("/ui")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["referrer-policy"] == "no-referrer"
        assert "<script>" not in page.text  # only <script src=...>: no inline script
        assert 'src="/ui/static/app.js"' in page.text
        for asset, media in (("app.js", "text/javascript"), ("app.css", "text/css")):
            answer = router.http.get(f"/ui/static/{asset}")
            assert answer.status_code == 200
            assert answer.headers["content-type"].startswith(media)
        missing = router.http.get("/ui/static/..%2Fdashboard.py")
        assert missing.status_code == 404
        assert router.http.get("/ui/static/secrets.txt").json()["error_code"] == "NOT_FOUND"


def test_data_needs_a_session_and_only_an_admin_key_opens_one(tmp_path: Path) -> None:
    with dashboard(tmp_path) as (router, _, _):
        assert session(router.http) == {
            "auth_required": True,
            "logged_in": False,
            "name": None,
            "csrf": session(router.http)["csrf"],
        }
        anonymous = router.http.get("/ui/api/state")
        assert (anonymous.status_code, anonymous.json()["error_code"]) == (
            401,
            "AUTHENTICATION_REQUIRED",
        )
        wrong = login(router, "nx-guess")
        assert (wrong.status_code, wrong.json()["message"]) == (401, "Invalid API key")
        user = login(router, ALICE)
        assert user.status_code == 403
        assert "admin key" in user.json()["message"]
        assert "set-cookie" not in user.headers
        assert router.http.get("/ui/api/state").status_code == 401

        ok = login(router, ADMIN)
        assert ok.status_code == 200
        assert ok.json()["name"] == "ops"
        cookie = ok.headers["set-cookie"]
        assert ADMIN not in cookie  # an opaque id, never the key
        assert hashlib.sha256(ADMIN.encode()).hexdigest() not in cookie
        attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
        assert {"httponly", "path", "max-age"} <= attributes
        assert "samesite=strict" in cookie.lower()
        assert "path=/ui" in cookie.lower()
        assert router.http.get("/ui/api/state").status_code == 200
        assert session(router.http)["name"] == "ops"


def test_the_session_cookie_is_not_a_credential_for_the_api(tmp_path: Path) -> None:
    with dashboard(tmp_path) as (router, _, _):
        assert login(router, ADMIN).status_code == 200
        sid = router.http.cookies.get("nexus_ui")
        assert sid
        cookie = {"cookie": f"nexus_ui={sid}"}
        assert router.http.get("/v1/models", headers=cookie).status_code == 401
        assert router.http.get("/admin/config", headers=cookie).status_code == 401
        chat = router.http.post(
            "/v1/chat/completions", json={"model": "chat", "messages": HI}, headers=cookie
        )
        assert chat.status_code == 401


def test_posts_need_the_csrf_token_and_the_same_origin(tmp_path: Path) -> None:
    with dashboard(tmp_path) as (router, _, _):
        assert login(router, ADMIN).status_code == 200
        token = str(session(router.http)["csrf"])
        body = {"model": "chat"}
        missing = router.http.post("/ui/api/explain", json=body)
        assert (missing.status_code, missing.json()["message"]) == (
            403,
            "Missing or wrong X-Nexus-CSRF header: reload the page",
        )
        wrong = router.http.post("/ui/api/explain", json=body, headers={"x-nexus-csrf": "x"})
        assert wrong.status_code == 403
        foreign = router.http.post(
            "/ui/api/explain",
            json=body,
            headers={"x-nexus-csrf": token, "origin": "https://evil.example"},
        )
        assert foreign.status_code == 403
        assert foreign.json()["message"] == "Cross-origin request refused by the dashboard"
        ok = router.http.post("/ui/api/explain", json=body, headers={"x-nexus-csrf": token})
        assert ok.status_code == 200
        assert router.http.post("/ui/api/logout").status_code == 403  # logout needs it too
        no_login_csrf = router.http.post("/ui/api/login", json={"key": ADMIN})
        assert no_login_csrf.status_code == 403


def test_logout_and_key_rotation_end_the_session(tmp_path: Path) -> None:
    with dashboard(tmp_path) as (router, _, path):
        assert login(router, ADMIN).status_code == 200
        token = str(session(router.http)["csrf"])
        assert (
            router.http.post("/ui/api/logout", headers={"x-nexus-csrf": token}).status_code == 200
        )
        assert router.http.get("/ui/api/state").status_code == 401

        assert login(router, ADMIN).status_code == 200
        rotated = "nx-admin-key-rotated-0000000000"
        before = router.holder.current.version
        path.write_text(
            path.read_text().replace(
                hashlib.sha256(ADMIN.encode()).hexdigest(),
                hashlib.sha256(rotated.encode()).hexdigest(),
            )
        )
        wait_for(lambda: router.holder.current.version != before, what="the reload")
        assert router.http.get("/ui/api/state").status_code == 401
        assert login(router, rotated).status_code == 200


def test_the_explain_form_answers_what_the_api_answers(tmp_path: Path) -> None:
    with dashboard(tmp_path, keys=False) as (router, _, _):
        token = str(session(router.http)["csrf"])
        for body in (
            {"model": "chat"},
            {"model": "chat", "history": 3, "down": ["gpu-box"]},
            {"model": "chat", "strict": True, "down": ["gpu-box", "cloud"]},
            {"model": "nope"},
        ):
            form = router.http.post("/ui/api/explain", json=body, headers={"x-nexus-csrf": token})
            api = router.http.post("/v1/route/explain", json=body)
            assert form.status_code == api.status_code == 200
            assert form.json() == api.json()
        history = router.http.post(
            "/ui/api/explain",
            json={"model": "chat", "history": 3, "down": ["gpu-box"]},
            headers={"x-nexus-csrf": token},
        ).json()
        assert history["outcome"] == "rejected"
        assert history["rejection"]["rejection_reason"] == "overflow_blocked_with_history"
        bad = router.http.post(
            "/ui/api/explain", json={"history": 2}, headers={"x-nexus-csrf": token}
        )
        assert bad.status_code == 400
        assert bad.json()["message"] == "Invalid request: missing model parameter"


def test_requests_reach_the_feed_and_charts_without_content_or_secrets(tmp_path: Path) -> None:
    with dashboard(tmp_path, keys=False) as (router, home, _):
        answer = router.http.post("/v1/chat/completions", json={"model": "chat", "messages": HI})
        assert answer.status_code == 200
        home.status = 500  # the next request fails over to the cloud
        router.http.post("/v1/chat/completions", json={"model": "chat", "messages": HI})
        rejected = router.http.post(
            "/v1/chat/completions",
            json={"model": "chat", "messages": [*HI, {"role": "assistant", "content": "a"}, *HI]},
        )
        assert rejected.status_code in (502, 503)
        state = router.http.get("/ui/api/state")
        feed = state.json()["feed"]
        assert [row["request_id"] for row in feed][-1] == answer.headers["x-request-id"]
        first = feed[-1]
        assert (first["api"], first["route"], first["provider"], first["model"]) == (
            "chat",
            "chat",
            "gpu-box",
            "small",
        )
        assert (first["zone"], first["route_reason"], first["status"]) == ("home", "primary", 200)
        assert first["prompt_tokens"] is not None
        assert first["cost_usd"] == 0.0  # a model without a price is free
        assert (feed[0]["route"], feed[0]["rejection_reason"]) == (
            "chat",
            "overflow_blocked_with_history",
        )
        assert [
            r["request_id"]
            for r in router.http.get(
                "/ui/api/state", params={"route": "chat", "status": "rejected"}
            ).json()["feed"]
        ] == [rejected.headers["x-request-id"]]
        assert feed[1]["route_reason"] == "overflow"  # failed over to a less private zone
        assert feed[1]["provider"] == "cloud"
        charts = state.json()["charts"]
        assert sum(charts["providers"]["gpu-box"]["rps"]) > 0
        assert sum(charts["zones"]["home"]["tokens"]) > 0
        text = state.text
        assert "the secret prompt text" not in text
        assert "home" in text
        assert PROVIDER_KEY not in text
        assert PROVIDER_KEY[:12] not in text
        assert all(
            PROVIDER_KEY not in router.http.get(p).text for p in ("/ui", "/ui/static/app.js")
        )

        only_ok = router.http.get("/ui/api/state", params={"status": "ok"}).json()["feed"]
        assert only_ok
        assert all(row["status"] < 400 for row in only_ok)
        bad = router.http.get("/ui/api/state", params={"status": "green"})
        assert (bad.status_code, bad.json()) == (
            400,
            {
                "message": "'status' must be ok, error, rejected or a three-digit status code",
                "error_code": "INVALID_REQUEST",
            },
        )


def test_a_provider_going_down_shows_in_the_topology(tmp_path: Path) -> None:
    with dashboard(tmp_path, keys=False) as (router, home, _):

        def status() -> str:
            zones = router.http.get("/ui/api/state").json()["zones"]
            return str(zones[0]["providers"][0]["status"])

        wait_for(lambda: status() == "healthy", what="gpu-box healthy")
        home.probe_status = 503
        wait_for(lambda: status() == "unhealthy", timeout=5, what="gpu-box unhealthy")
        route = next(
            r for r in router.http.get("/ui/api/state").json()["routes"] if r["model"] == "chat"
        )
        assert route["serving"] == {"target": "cloud/big", "reason": "overflow"}


@pytest.mark.parametrize("feed", [200])
def test_the_data_endpoint_answers_in_under_50_ms_with_a_full_feed(
    tmp_path: Path, feed: int
) -> None:
    with dashboard(tmp_path, keys=False) as (router, _, _):
        for _ in range(feed):
            router.http.post("/v1/chat/completions", json={"model": "chat", "messages": HI})
        assert len(router.http.get("/ui/api/state").json()["feed"]) == feed
        timings = []
        for _ in range(20):
            started = time.perf_counter()
            assert router.http.get("/ui/api/state").status_code == 200
            timings.append(time.perf_counter() - started)
        assert statistics.median(timings) < 0.050, timings


def test_discovered_models_are_told_apart_from_declared_ones(tmp_path: Path) -> None:
    backend = FakeOpenAI(reply="home", models=("declared-m", "pulled-m"))
    with serve(backend) as url:
        path = tmp_path / "nexus.yaml"
        path.write_text(
            "version: 1\n"
            "providers:\n"
            f"  - {{name: box, kind: openai, base_url: '{url}/v1', discover: true,\n"
            "     models: [{name: declared-m, tiers: {coding: 7}}]}\n"
            "routing: {health: {interval_s: 0.05}}\n"
        )
        with run_router(path) as router:

            def box() -> dict[str, object] | None:
                provider = router.http.get("/ui/api/state").json()["zones"][0]["providers"][0]
                names = {m["name"] for m in provider["models"]}
                return provider if "pulled-m" in names else None

            provider = wait_for(box, what="the discovered model in the topology")
            assert provider["declared_models"] == ["declared-m"]
            flags = {m["name"]: m["discovered"] for m in provider["models"]}  # type: ignore[attr-defined]
            assert flags == {"declared-m": False, "pulled-m": True}
