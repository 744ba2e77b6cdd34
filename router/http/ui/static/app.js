// The Nexus dashboard: polls /ui/api/state once a second and draws it. Read-only.
// Text goes in with textContent only (provider errors are untrusted text), and the
// key typed into the login form is sent once and never stored.
"use strict";

const POLL_MS = 1000;
const ui = { csrf: null, timer: null, providers: "", routes: "" };

function $(id) { return document.getElementById(id); }

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") node.textContent = String(value);
    else if (name === "cls") node.className = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attrs, ...children) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (name === "text") node.textContent = String(value);
    else node.setAttribute(name, String(value));
  }
  for (const child of children.flat(Infinity)) if (child) node.append(child);
  return node;
}

async function api(path, options) {
  const opts = Object.assign({ credentials: "same-origin", headers: {} }, options || {});
  if (opts.method === "POST") {
    opts.headers["content-type"] = "application/json";
    opts.headers["x-nexus-csrf"] = ui.csrf || "";
  }
  const response = await fetch(path, opts);
  let body = null;
  try { body = await response.json(); } catch (_) { body = null; }
  if (!response.ok) {
    const error = new Error((body && body.message) || `HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

// -- session ---------------------------------------------------------------------------

async function start() {
  const session = await api("/ui/api/session");
  ui.csrf = session.csrf;
  if (session.logged_in) showApp(session); else showLogin();
}

function showLogin(message) {
  clearTimeout(ui.timer);
  $("app").hidden = true; $("nav").hidden = true; $("logout").hidden = true;
  $("login").hidden = false;
  $("who").textContent = "";
  $("live").textContent = "";
  $("login-error").textContent = message || "";
  $("login-key").focus();
}

function showApp(session) {
  $("login").hidden = true;
  $("app").hidden = false; $("nav").hidden = false;
  $("who").textContent = session.name ? `logged in as ${session.name}` : "";
  $("logout").hidden = !session.auth_required;
  poll();
}

async function login(event) {
  event.preventDefault();
  const input = $("login-key");
  const key = input.value;
  input.value = "";  // not kept in the page
  try {
    const session = await api("/ui/api/login", { method: "POST", body: JSON.stringify({ key }) });
    ui.csrf = session.csrf;
    showApp(Object.assign({ auth_required: true }, session));
  } catch (error) {
    $("login-error").textContent = error.message;
  }
}

async function logout() {
  try { await api("/ui/api/logout", { method: "POST", body: "{}" }); } catch (_) { /* gone anyway */ }
  await start();
}

// -- polling ---------------------------------------------------------------------------

async function poll() {
  clearTimeout(ui.timer);
  const params = new URLSearchParams();
  if ($("filter-status").value) params.set("status", $("filter-status").value);
  if ($("filter-route").value) params.set("route", $("filter-route").value);
  try {
    const state = await api(`/ui/api/state?${params}`);
    render(state);
    $("live").textContent = `live · ${new Date().toLocaleTimeString()}`;
    $("live").classList.remove("stale");
  } catch (error) {
    if (error.status === 401 || error.status === 403) { await start(); return; }
    $("live").textContent = `not updating: ${error.message}`;
    $("live").classList.add("stale");
  }
  ui.timer = setTimeout(poll, POLL_MS);
}

function render(state) {
  renderConfig(state.config);
  renderTopology(state.zones);
  renderRoutes(state.routes);
  renderCharts(state.charts);
  renderFeed(state.feed);
  syncChoices(state);
}

// -- config ----------------------------------------------------------------------------

function renderConfig(config) {
  const reloads = config.reloads;
  const rows = [
    ["version", el("code", { text: config.version })],
    ["file", el("code", { text: config.path })],
    ["loaded at", config.loaded_at],
    ["reloads", `${reloads.succeeded} succeeded · ${reloads.failed} failed · ${reloads.unchanged} unchanged`],
  ];
  const error = config.last_error;
  if (error) {
    const where = [error.line ? `line ${error.line}` : null, error.column ? `column ${error.column}` : null,
      error.path ? `JSON path ${error.path}` : null].filter(Boolean).join(", ");
    rows.push(["last reload error", el("div", { cls: "error", id: "last-error" },
      el("div", { text: `${error.at}${where ? ` — ${where}` : ""} (still serving the last good version)` }),
      el("div", { cls: "mono", text: error.message }),
      (error.errors || []).slice(1).map((e) => el("div", { text: `line ${e.line}: ${e.message}` })))]);
  } else {
    rows.push(["last reload error", el("span", { cls: "muted", text: "none" })]);
  }
  rows.push(["warnings", config.warnings.length
    ? el("ul", {}, config.warnings.map((w) => el("li", { cls: "warning", text: `line ${w.line}: ${w.message}` })))
    : el("span", { cls: "muted", text: "none" })]);
  $("config").replaceChildren(el("dl", { cls: "kv" }, rows.map(([k, v]) => [el("dt", { text: k }), el("dd", {}, v)])));
}

// -- topology --------------------------------------------------------------------------

function tiers(t) { return t ? `R${t.reasoning} C${t.coding}` : "—"; }

function providerCard(p) {
  const circuit = p.circuit;
  const badges = [el("span", { cls: `badge ${p.status}`, text: p.status })];
  if (circuit.open) badges.push(el("span", { cls: "badge open", text: `circuit open${circuit.half_open_in_s !== null ? `, half-open in ${circuit.half_open_in_s}s` : ""}` }));
  if (p.cooling_down_s > 0) badges.push(el("span", { cls: "badge open", text: `cooling down ${p.cooling_down_s}s` }));
  const facts = [
    `${p.kind}`,
    `in flight ${p.in_flight}/${p.max_concurrency === null ? "∞" : p.max_concurrency}`,
    `rpm ${p.rpm === null ? "unlimited" : p.rpm}`,
    `${circuit.consecutive_failures} consecutive failures`,
  ];
  if (p.recent_error_rate !== null && p.recent_error_rate !== undefined) facts.push(`error rate ${Math.round(p.recent_error_rate * 100)}%`);
  const listedByBackend = p.listed_models;
  const models = p.models.map((m) => {
    const listed = listedByBackend && !listedByBackend.includes(m.name) ? " · not listed by the provider" : "";
    const open = circuit.open_models[m.name] ? ` · circuit open ${circuit.open_models[m.name]}s` : "";
    return el("li", { "data-model": m.name, "data-discovered": m.discovered ? "true" : "false" },
      el("code", { text: m.name }),
      m.discovered ? el("span", { cls: "badge", text: "discovered" }) : null,
      ` ${tiers(m.tiers)}${m.context_window ? ` · ctx ${m.context_window}` : ""}${m.capabilities.length ? ` · ${m.capabilities.join(", ")}` : ""}${listed}${open}`);
  });
  const served = p.models.map((m) => m.name);
  const extra = listedByBackend ? listedByBackend.filter((name) => !served.includes(name)) : [];
  return el("div", { cls: "provider", "data-provider": p.name, "data-status": p.status },
    el("h4", {}, el("span", { text: p.name }), badges),
    el("div", { cls: "facts mono", text: p.base_url }),
    el("div", { cls: "facts", text: facts.join(" · ") }),
    p.disabled_reason ? el("div", { cls: "facts warning", text: p.disabled_reason }) : null,
    p.last_error ? el("div", { cls: "facts error", text: `last error: ${p.last_error}` }) : null,
    el("ul", { cls: "models" }, models),
    extra.length ? el("div", { cls: "facts", text: `listed by the backend, not served: ${extra.join(", ")}` }) : null);
}

function renderTopology(zones) {
  $("topology").replaceChildren(el("div", { cls: "zones" }, zones.map((zone, i) =>
    el("div", { cls: "zone", "data-zone": zone.name },
      el("h3", {}, zone.name, " ", el("span", { cls: "rank", text: i === 0 ? "most private" : `#${i + 1}` })),
      zone.providers.length ? zone.providers.map(providerCard) : el("div", { cls: "muted", text: "no providers" })))));
}

// -- routes ----------------------------------------------------------------------------

function renderRoutes(routes) {
  const rows = routes.map((r) => {
    const serving = r.serving.target
      ? el("span", { cls: "verdict-usable", text: `${r.serving.target} (${r.serving.reason})` })
      : el("span", { cls: "verdict-other", text: `none: ${r.serving.rejection_reason}` });
    return el("tr", { "data-route": r.model },
      el("td", {}, el("code", { text: r.model }), r.direct ? el("span", { cls: "muted", text: " served directly" }) : null),
      el("td", { text: r.targets.map((t) => `${t.target} [${t.zone}]`).join(" → ") }),
      el("td", { text: r.zone }),
      el("td", { text: tiers(r.min_tiers) }),
      el("td", { text: r.overflow }),
      el("td", { cls: "serving" }, serving));
  });
  $("routes").replaceChildren(el("div", { cls: "scroll" }, el("table", {},
    el("thead", {}, el("tr", {}, ["model", "targets, in order", "zone", "min tiers", "overflow", "would serve now"].map((h) => el("th", { text: h })))),
    el("tbody", {}, rows))));
}

// -- charts ----------------------------------------------------------------------------

const W = 440, H = 150, PAD_L = 44, PAD_B = 18, PAD_T = 6, PAD_R = 6;

function niceMax(value) {
  if (!(value > 0)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= value) return step * magnitude;
  return 10 * magnitude;
}

function chart(title, starts, lines, unit) {
  // lines: [{name, values (numbers or null), dashed, color}]
  const values = lines.flatMap((l) => l.values).filter((v) => typeof v === "number");
  const top = niceMax(Math.max(0, ...values));
  const n = starts.length;
  const x = (i) => PAD_L + (i * (W - PAD_L - PAD_R)) / Math.max(1, n - 1);
  const y = (v) => PAD_T + (H - PAD_T - PAD_B) * (1 - v / top);
  const grid = [0, 0.5, 1].map((f) => [
    svg("line", { class: "grid", x1: PAD_L, x2: W - PAD_R, y1: y(top * f), y2: y(top * f) }),
    svg("text", { x: PAD_L - 4, y: y(top * f) + 3, "text-anchor": "end", text: `${+(top * f).toPrecision(3)}` }),
  ]);
  const ticks = [0, Math.floor(n / 3), Math.floor((2 * n) / 3), n - 1].map((i) =>
    svg("text", { x: x(i), y: H - 4, "text-anchor": "middle", text: i === n - 1 ? "now" : `-${Math.round(((n - 1 - i) * (starts[1] - starts[0])) / 60)}m` }));
  const polylines = [];
  for (const line of lines) {
    let run = [];
    const flush = () => {
      if (run.length === 1) {  // a lone point draws no line: mark it
        const [cx, cy] = run[0].split(",");
        polylines.push(svg("circle", { class: `c${line.color}`, cx, cy, r: 2 }));
      } else if (run.length) {
        polylines.push(svg("polyline", { class: `c${line.color}${line.dashed ? " dashed" : ""}`, points: run.join(" ") }));
      }
      run = [];
    };
    line.values.forEach((v, i) => { if (typeof v === "number") run.push(`${x(i).toFixed(1)},${y(v).toFixed(1)}`); else flush(); });
    flush();
  }
  const legend = el("div", { cls: "legend" }, lines.filter((l) => !l.dashed || lines.length < 2).map((l) =>
    el("span", {}, el("i", { cls: `c${l.color}` }), l.name)));
  const empty = values.length === 0 || values.every((v) => v === 0);
  return el("div", { cls: "chart", "data-chart": title },
    el("h3", { text: `${title}${unit ? ` (${unit})` : ""}` }),
    svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title },
      grid, svg("line", { class: "axis", x1: PAD_L, x2: W - PAD_R, y1: H - PAD_B, y2: H - PAD_B }), ticks, polylines),
    empty ? el("div", { cls: "muted", text: "nothing yet" }) : legend);
}

function renderCharts(charts) {
  const starts = charts.starts;
  const providers = Object.entries(charts.providers);
  const color = (i) => i % 8;
  const zones = Object.entries(charts.zones);
  const children = [
    chart("Requests per second, by provider", starts,
      providers.map(([name, s], i) => ({ name, values: s.rps, color: color(i) })), "req/s"),
    chart("Latency by provider: p50 solid, p95 dashed", starts,
      providers.flatMap(([name, s], i) => [
        { name, values: s.p50_ms, color: color(i) },
        { name: `${name} p95`, values: s.p95_ms, color: color(i), dashed: true }]), "ms"),
    chart("Routing rejections, by reason", starts,
      Object.entries(charts.rejections).map(([name, values], i) => ({ name, values, color: color(i) })), `per ${charts.step_s}s`),
    chart("Tokens, by zone", starts,
      zones.map(([name, s], i) => ({ name, values: s.tokens, color: color(i) })), `per ${charts.step_s}s`),
  ];
  if (charts.priced) {
    children.push(chart("Spend, by zone", starts,
      zones.map(([name, s], i) => ({ name, values: s.cost_usd || [], color: color(i) })), `USD per ${charts.step_s}s`));
  } else {
    children.push(el("div", { cls: "chart muted", "data-chart": "spend", text: "Spend by zone appears when models have prices." }));
  }
  $("charts").replaceChildren(...children);
}

// -- feed ------------------------------------------------------------------------------

function fmt(value) { return value === null || value === undefined ? "" : String(value); }

function renderFeed(feed) {
  $("feed").replaceChildren(...feed.map((r) => el("tr", {
    cls: r.status >= 400 ? "st-err" : "st-ok", "data-request-id": r.request_id, "data-status": r.status,
  },
  el("td", { cls: "mono", text: r.at.slice(11, 23) }),
  el("td", { text: fmt(r.key) }),
  el("td", { text: r.api }),
  el("td", { text: fmt(r.route) }),
  el("td", { text: r.provider ? `${r.provider}/${r.model}` : "" }),
  el("td", { text: fmt(r.zone) }),
  el("td", { text: fmt(r.rejection_reason || r.route_reason) }),
  el("td", { cls: "status num", text: r.status }),
  el("td", { cls: "num", text: fmt(r.latency_ms) }),
  el("td", { cls: "num", text: fmt(r.ttfb_ms) }),
  el("td", { cls: "num", text: r.prompt_tokens === null && r.completion_tokens === null ? "" : `${fmt(r.prompt_tokens)}/${fmt(r.completion_tokens)}` }),
  el("td", { cls: "num", text: r.cost_usd === null ? "" : r.cost_usd.toFixed(6) }))));
}

// -- choices that follow the config (route filter, explain form) ----------------------------

function syncChoices(state) {
  const names = state.zones.flatMap((z) => z.providers.map((p) => p.name));
  const routes = state.routes.map((r) => r.model);
  if (routes.join("\n") !== ui.routes) {
    ui.routes = routes.join("\n");
    const chosen = $("filter-route").value;
    $("filter-route").replaceChildren(el("option", { value: "", text: "all" }),
      ...routes.map((r) => el("option", { value: r, text: r, selected: r === chosen })));
    $("explain-models").replaceChildren(...routes.map((r) => el("option", { value: r })));
  }
  if (names.join("\n") !== ui.providers) {
    ui.providers = names.join("\n");
    $("explain-down").replaceChildren(...names.map((name) =>
      el("label", {}, el("input", { type: "checkbox", value: name, name: "down" }), ` ${name}`)));
  }
}

// -- explain ---------------------------------------------------------------------------

async function explain(event) {
  event.preventDefault();
  const mode = $("explain-mode").value;
  const body = {
    model: $("explain-model").value.trim(),
    history: Number($("explain-history").value) || 0,
    down: [...document.querySelectorAll("#explain-down input:checked")].map((i) => i.value),
  };
  if (mode) body[mode] = true;
  try {
    renderExplanation(await api("/ui/api/explain", { method: "POST", body: JSON.stringify(body) }));
  } catch (error) {
    $("explain-result").replaceChildren(el("p", { cls: "error", text: error.message }));
  }
}

function renderExplanation(report) {
  let decision;
  if (report.outcome === "routed") {
    decision = `routed (${report.preference}) → ${report.candidates.map((c) => `${c.target} [${c.reason}]`).join(", then ")}`;
  } else if (report.outcome === "rejected") {
    decision = `rejected: 503 ${report.rejection.rejection_reason} — ${report.message}`;
  } else {
    decision = `unknown model; available: ${report.available_models.join(", ")}`;
  }
  const rows = (report.considered || []).map((c) => el("tr", { "data-target": c.target },
    el("td", {}, el("code", { text: c.target })),
    el("td", { text: c.zone }),
    el("td", { text: tiers(c.tiers) }),
    el("td", { text: c.alternative ? "alternative" : "target" }),
    el("td", { cls: c.verdict === "usable" ? "verdict-usable" : "verdict-other", text: c.verdict }),
    el("td", { text: fmt(c.chosen_as) }),
    el("td", { text: c.why })));
  $("explain-result").replaceChildren(
    el("p", { cls: "decision", id: "explain-decision", "data-outcome": report.outcome, text: decision }),
    rows.length ? el("table", {},
      el("thead", {}, el("tr", {}, ["candidate", "zone", "tiers", "as", "verdict", "chosen as", "why"].map((h) => el("th", { text: h })))),
      el("tbody", {}, rows)) : null);
}

// -- wiring ----------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  $("explain-form").addEventListener("submit", explain);
  $("filter-status").addEventListener("change", poll);
  $("filter-route").addEventListener("change", poll);
  start().catch((error) => { $("live").textContent = `cannot reach the router: ${error.message}`; });
});
