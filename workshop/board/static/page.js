// The instructor's page: polls /api/board and redraws the grid. Everything a learner sent
// (names, hints, found/expected) goes into the page as text (textContent), never as HTML.
"use strict";

const POLL_MS = 2000;
const MARK = { pass: "✓", fail: "✗", waiting: "…" };
let key = "";
let version = null;
let openLearner = null;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k === "data") Object.assign(node.dataset, v);
    else node.setAttribute(k, v);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function ago(seconds) {
  if (seconds < 60) return "just now";
  if (seconds < 3600) return Math.round(seconds / 60) + " min ago";
  return Math.round(seconds / 3600) + " h ago";
}

function setStatus(text, down) {
  const s = document.getElementById("status");
  s.textContent = text;
  s.classList.toggle("down", !!down);
}

async function api(path) {
  const r = await fetch(path, { headers: { Authorization: "Bearer " + key }, cache: "no-store" });
  if (r.status === 403 || r.status === 401) {
    sessionStorage.removeItem("board-key");
    askForKey("That key is not this board's instructor key.");
    throw new Error("key refused");
  }
  if (!r.ok) throw new Error("HTTP " + r.status);
  return r;
}

function render(data) {
  const t0 = performance.now();
  const head = document.getElementById("grid-head");
  head.replaceChildren(el("th", { class: "name" }, "Learner"), el("th", {}, "Last activity"),
    ...data.exercises.map((ex) => el("th", { scope: "col" }, ex)), el("th", { class: "name" }, "Stuck"));
  const rows = data.learners.map((l) => {
    const stuck = l.stuck
      ? el("td", { class: "stuck" }, `${l.stuck.minutes} min on ${l.stuck.check}`,
        el("span", { class: "hint" }, l.stuck.hint))
      : el("td", { class: "stuck" });
    const name = el("td", { class: "name", tabindex: "0", data: { learner: l.id } }, l.name);
    const tr = el("tr", { class: l.stuck ? "is-stuck" : "", data: { learner: l.id } }, name,
      el("td", { class: "ago" }, l.last_seen ? ago(data.now - l.last_seen) : ""),
      ...data.exercises.map((ex) => {
        const st = l.cells[ex] || "none";
        return el("td", {}, el("span", { class: "cell " + st, title: `${ex}: ${st}` }, MARK[st] || "·"));
      }),
      stuck);
    return tr;
  });
  document.getElementById("grid-body").replaceChildren(...rows);
  document.getElementById("failing").replaceChildren(...(data.failing.length
    ? data.failing.map((f) => el("li", {}, `${f.check} — ${f.learners} learner${f.learners === 1 ? "" : "s"}`,
      el("span", { class: "hint" }, f.hint)))
    : [el("li", { class: "none" }, "nothing failing")]));
  const stuckCount = data.learners.filter((l) => l.stuck).length;
  document.getElementById("summary").textContent =
    `${data.learners.length} learners · ${stuckCount} stuck (over ${data.stuck_after_minutes} min on one check)`;
  document.body.dataset.version = String(data.version);
  document.body.dataset.learners = String(data.learners.length);
  window.boardRenderMs = performance.now() - t0;
  // ms since navigation began, when the grid was first drawn (the load test reads it).
  if (window.boardFirstRenderAt === undefined) window.boardFirstRenderAt = performance.now();
}

async function poll() {
  if (!key) return;
  try {
    const r = await api("/api/board" + (version === null ? "" : "?since=" + encodeURIComponent(version)));
    const data = await r.json();
    if (!data.unchanged) {
      render(data);
      if (openLearner) showReport(openLearner);
    }
    version = data.version;
    setStatus("live · updated " + new Date().toLocaleTimeString(), false);
  } catch (e) {
    if (key) setStatus("board unreachable, retrying… (" + e.message + ")", true);
  }
}

async function showReport(learnerId) {
  openLearner = learnerId;
  const box = document.getElementById("report");
  box.hidden = false;
  const body = document.getElementById("report-body");
  try {
    const data = await (await api(`/api/learners/${encodeURIComponent(learnerId)}/report`)).json();
    document.getElementById("report-title").textContent =
      `${data.name} — lesson ${data.report.lesson}: ${data.report.score}/${data.report.max}`;
    document.getElementById("report-when").textContent =
      "graded " + new Date(data.graded_at * 1000).toLocaleTimeString();
    body.replaceChildren(...data.report.exercises.map((ex) => el("section", {},
      el("h3", {}, `${ex.id} ${ex.title}`),
      ...ex.checks.map((c) => el("div", { class: "check " + c.status },
        el("strong", {}, `${c.status.toUpperCase()} ${c.id}`),
        // A passing check needs no detail; a failing one shows what the learner sees.
        el("dl", {}, ...(c.status === "pass" ? [] : ["object", "expected", "found", "hint"])
          .filter((k) => c[k])
          .flatMap((k) => [el("dt", {}, k), el("dd", {}, c[k])])))))));
  } catch (e) {
    document.getElementById("report-title").textContent = "No report yet";
    document.getElementById("report-when").textContent = "";
    body.replaceChildren();
  }
}

async function exportCsv() {
  const r = await api("/api/export.csv");
  const url = URL.createObjectURL(await r.blob());
  const a = el("a", { href: url, download: "workshop-room.csv" });
  document.body.append(a);
  a.click();
  a.remove();
  URL.revokeObjectURL(url);
}

function askForKey(message) {
  key = "";
  const form = document.getElementById("keyform");
  form.hidden = false;
  setStatus(message || "instructor key needed", true);
}

function start() {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("key");
  if (fromHash) {
    sessionStorage.setItem("board-key", fromHash);
    history.replaceState(null, "", location.pathname);  // keep the key out of sight
  }
  key = sessionStorage.getItem("board-key") || "";
  document.getElementById("keyform").addEventListener("submit", (ev) => {
    ev.preventDefault();
    key = document.getElementById("key").value.trim();
    sessionStorage.setItem("board-key", key);
    document.getElementById("keyform").hidden = true;
    version = null;
    poll();
  });
  document.getElementById("grid-body").addEventListener("click", (ev) => {
    const row = ev.target.closest("tr");
    if (row) showReport(row.dataset.learner);
  });
  document.getElementById("grid-body").addEventListener("keydown", (ev) => {
    const cell = ev.target.closest("td.name");
    if (cell && ev.key === "Enter") showReport(cell.dataset.learner);
  });
  document.getElementById("close-report").addEventListener("click", () => {
    document.getElementById("report").hidden = true;
    openLearner = null;
  });
  document.getElementById("export").addEventListener("click", () => exportCsv().catch(() => {}));
  if (!key) askForKey();
  poll();
  setInterval(poll, POLL_MS);
}

start();
