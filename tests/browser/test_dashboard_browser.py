"""The dashboard in a real browser: login, topology, live feed, a provider going down, explain.

Set ``NEXUS_UI_SCREENSHOTS=docs/ui`` to save the screenshots the README shows.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import REPO
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.router import RouterHandle, run_router
from tests.fakes.servers import serve

pytestmark = pytest.mark.browser

ADMIN = "nx-admin-key-b7e1c3d5f7092a4c"
ALICE = "nx-alice-key-13579bdf2468ace0"
PROVIDER_KEY = "sk-provider-secret-7d2e9f1a0b3c"
#: Seconds between health probes; the page polls every second.
PROBE_S = 1.0
POLL_S = 1.0

CONFIG = f"""\
version: 1
auth:
  keys:
    - {{name: ops, role: admin, sha256: {hashlib.sha256(ADMIN.encode()).hexdigest()}}}
    - {{name: alice, role: user, sha256: {hashlib.sha256(ALICE.encode()).hexdigest()}}}
zones: [{{name: restricted}}, {{name: home}}, {{name: cloud}}]
providers:
  - {{name: gpu-box, kind: openai, base_url: "{{home}}", zone: home, max_concurrency: 4,
     models: [{{name: llama3-70b, tiers: {{reasoning: 7, coding: 6}}, context_window: 8192, tools: true}},
              {{name: qwen-coder, tiers: {{reasoning: 5, coding: 8}}, tools: true}}]}}
  - {{name: nas, kind: openai, base_url: "{{nas}}", zone: restricted,
     models: [{{name: llama3-8b, tiers: {{reasoning: 4, coding: 3}}}}]}}
  - {{name: cloud, kind: openai, base_url: "{{cloud}}", api_key: "${{CLOUD_KEY}}", zone: cloud, rpm: 600,
     models: [{{name: gpt-big, tiers: {{reasoning: 9, coding: 9}}, vision: true, tools: true}}]}}
routes:
  - {{model: chat, targets: [gpu-box/llama3-70b, cloud/gpt-big], zone: home, overflow: fresh-only}}
  - {{model: private, targets: [nas/llama3-8b], zone: restricted, overflow: never}}
  - {{model: code, targets: [gpu-box/qwen-coder, cloud/gpt-big], zone: home, min_tiers: {{coding: 6}},
     overflow: always}}
routing:
  health: {{interval_s: {PROBE_S}, failure_threshold: 1}}
"""


@contextlib.contextmanager
def stack(tmp_path: Path) -> Iterator[tuple[RouterHandle, FakeOpenAI, Path]]:
    home = FakeOpenAI(reply="home", models=("llama3-70b", "qwen-coder"))
    nas = FakeOpenAI(reply="nas", models=("llama3-8b",))
    cloud = FakeOpenAI(reply="cloud", models=("gpt-big",))
    with serve(home) as home_url, serve(nas) as nas_url, serve(cloud) as cloud_url:
        path = tmp_path / "nexus.yaml"
        path.write_text(
            CONFIG.replace("{home}", f"{home_url}/v1")
            .replace("{nas}", f"{nas_url}/v1")
            .replace("{cloud}", f"{cloud_url}/v1")
        )
        with run_router(path, env={"CLOUD_KEY": PROVIDER_KEY}) as router:
            yield router, home, path


def chat(router: RouterHandle, model: str, messages: int = 1) -> httpx.Response:
    turns: list[dict[str, str]] = [{"role": "user", "content": "hello"}]
    for _ in range(messages - 1):
        turns += [{"role": "assistant", "content": "hi"}, {"role": "user", "content": "more"}]
    return router.http.post(
        "/v1/chat/completions",
        json={"model": model, "messages": turns},
        headers={"authorization": f"Bearer {ALICE}"},
    )


def shoot(page: Any, name: str, selector: str | None = None) -> None:
    folder = os.environ.get("NEXUS_UI_SCREENSHOTS")
    if not folder:
        return
    target = (REPO / folder) / f"{name}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    if selector is None:
        page.screenshot(path=str(target), full_page=True)
    else:
        page.locator(selector).screenshot(path=str(target))


def log_in(page: Any) -> None:
    """A user key is refused; an admin key opens the dashboard, and is kept nowhere."""
    page.wait_for_selector("#login:not([hidden])")
    assert page.is_hidden("#app")
    shoot(page, "login", "#login")
    page.fill("#login-key", ALICE)
    page.click("#login-submit")
    page.wait_for_selector("#login-error:has-text('admin key')")
    assert page.is_hidden("#app")
    page.fill("#login-key", ADMIN)
    page.click("#login-submit")
    page.wait_for_selector("#app:not([hidden])")
    assert page.inner_text("#who") == "logged in as ops"
    assert ADMIN not in page.url
    assert page.evaluate("document.cookie") == ""  # HttpOnly: scripts cannot read it
    assert page.evaluate("localStorage.length + sessionStorage.length") == 0
    assert page.input_value("#login-key") == ""


def topology(page: Any) -> None:
    """Zones most private first, providers with their state and models, who serves a route."""
    page.wait_for_selector("[data-provider='gpu-box'][data-status='healthy']")
    zones = page.eval_on_selector_all("[data-zone]", "els => els.map(e => e.dataset.zone)")
    assert zones == ["restricted", "home", "cloud"]
    gpu = page.inner_text("[data-provider='gpu-box']")
    assert "llama3-70b" in gpu
    assert "R7 C6" in gpu
    assert "in flight 0/4" in gpu
    assert "rpm 600" in page.inner_text("[data-provider='cloud']")
    assert page.inner_text("[data-route='chat'] .serving") == "gpu-box/llama3-70b (primary)"


def live_feed(page: Any, router: RouterHandle) -> None:
    """A request appears in the feed without a reload; then traffic for the charts."""
    served = chat(router, "chat")
    assert served.status_code == 200
    row = f"#feed tr[data-request-id='{served.headers['x-request-id']}']"
    page.wait_for_selector(row, timeout=(POLL_S + 2) * 1000)
    cells = page.inner_text(row)
    assert "alice" in cells
    assert "gpu-box/llama3-70b" in cells
    assert "primary" in cells
    for _ in range(5):
        assert chat(router, "code").status_code == 200
    assert chat(router, "private").status_code == 200
    assert chat(router, "chat", messages=3).status_code == 200  # history stays home


def provider_down(page: Any, router: RouterHandle, home: FakeOpenAI) -> None:
    """A provider going down shows within the probe interval (plus one poll of the page)."""
    home.probe_status = 503
    page.wait_for_selector(
        "[data-provider='gpu-box'][data-status='unhealthy']",
        timeout=(PROBE_S + POLL_S + 1.5) * 1000,
    )
    page.wait_for_selector("[data-route='chat'] .serving:has-text('cloud/gpt-big')")
    blocked = chat(router, "chat", messages=3)
    assert blocked.status_code == 503
    rejected = f"#feed tr[data-request-id='{blocked.headers['x-request-id']}']"
    page.wait_for_selector(f"{rejected}:has-text('overflow_blocked_with_history')")


def explain_form(page: Any, router: RouterHandle) -> None:
    """The explain form answers as POST /v1/route/explain does."""
    page.fill("#explain-model", "chat")
    page.fill("#explain-history", "4")
    page.check("#explain-down input[value='cloud']")
    page.click("#explain-submit")
    page.wait_for_selector("#explain-decision")
    decision = page.inner_text("#explain-decision")
    assert page.get_attribute("#explain-decision", "data-outcome") == "rejected"
    assert "503 " in decision
    api = router.http.post(
        "/v1/route/explain",
        json={"model": "chat", "history": 4, "down": ["cloud"]},
        headers={"authorization": f"Bearer {ADMIN}"},
    ).json()
    assert api["rejection"]["rejection_reason"] in decision
    targets = page.eval_on_selector_all(
        "#explain-result tr[data-target]", "els => els.map(e => e.dataset.target)"
    )
    assert targets == [c["target"] for c in api["considered"]]


def reload_error(page: Any, path: Path) -> None:
    """A failed reload shows with its file, line and JSON path."""
    path.write_text(path.read_text().replace("overflow: never", "overflow: nevr"))
    page.wait_for_selector("#last-error", timeout=10_000)
    error = page.inner_text("#last-error")
    assert f"{path}:" in error
    assert "$.routes[1].overflow" in error


def test_the_dashboard_in_a_browser(chromium: Any, tmp_path: Path) -> None:
    """Login, topology, a live feed, a provider going down, explain: no reload, no key in sight."""
    with stack(tmp_path) as (router, home, path):
        context = chromium.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        violations: list[str] = []
        page.on(
            "console",
            lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
        )
        bodies: list[str] = []
        page.on(
            "response",
            lambda r: bodies.append(r.text()) if r.url.startswith(router.url) else None,
        )
        page.goto(f"{router.url}/ui")
        log_in(page)
        topology(page)
        page.evaluate("window.nexusTestMarker = 'still the same page'")
        live_feed(page, router)
        provider_down(page, router, home)
        assert page.evaluate("window.nexusTestMarker") == "still the same page"  # no reload
        explain_form(page, router)
        reload_error(page, path)

        page.wait_for_selector("[data-chart] polyline")
        shoot(page, "dashboard")
        shoot(page, "topology", "#topology-section")
        shoot(page, "charts", "#charts-section")
        shoot(page, "feed", "#feed-section")
        shoot(page, "explain", "#explain-section")

        # The page never held a provider's key, and broke no CSP rule.
        page.wait_for_timeout(POLL_S * 1000)
        assert PROVIDER_KEY not in page.content()
        assert bodies
        assert not [b for b in bodies if PROVIDER_KEY in b or PROVIDER_KEY[:12] in b]
        assert violations == []

        page.click("#logout")  # ends the session: the login form is back
        page.wait_for_selector("#login:not([hidden])")
        assert page.evaluate("fetch('/ui/api/state').then(r => r.status)") == 401
        context.close()
