// The guards' page /uppdrag: the guard company's orders, acknowledge, check in and out,
// the outcome with an optional report. Works without network: every action goes into a
// queue on the phone (localStorage) first and is sent, in order, when the network is
// there. Each action carries a client-made id (action_id); the server records an action
// once however often it is sent, so a retry after a lost answer does no harm.
// User text goes into the page only with textContent. No external requests.
"use strict";
const CONFIG = JSON.parse(document.getElementById("config").textContent);
const API = "/api/v1/tib/orders";
const KEY = `uppdrag:${CONFIG.kommun}:${CONFIG.organisation}`;
const STEPS = {
  acknowledge: { kind: "acknowledged", to: "acknowledged", from: ["issued"], done: "Kvitterat" },
  "check-in": { kind: "checked_in", to: "checked_in", from: ["issued", "acknowledged"], done: "Incheckad" },
  "check-out": { kind: "checked_out", to: "checked_out", from: ["checked_in"], done: "Utcheckad" },
  outcome: { kind: "outcome", to: null, from: ["checked_in", "checked_out"], done: "Utfall rapporterat" },
};
const STATUS_SV = { issued: "utfärdad", acknowledged: "kvitterad", checked_in: "på plats",
  checked_out: "avslutad", cancelled: "inställd" };

const $ = (id) => document.getElementById(id);
const when = (iso, opts = {}) => new Date(iso).toLocaleString("sv-SE", {
  timeZone: "Europe/Stockholm", weekday: "short", hour: "2-digit", minute: "2-digit", ...opts });
const clock = (iso) => new Date(iso).toLocaleTimeString("sv-SE", {
  timeZone: "Europe/Stockholm", hour: "2-digit", minute: "2-digit" });

function read(name, fallback) {
  try { return JSON.parse(localStorage.getItem(`${KEY}:${name}`)) ?? fallback; } catch { return fallback; }
}
function write(name, value) { localStorage.setItem(`${KEY}:${name}`, JSON.stringify(value)); }

let orders = read("orders", []); // the last list the server sent
let fetchedAt = read("fetchedAt", null);
let queue = read("queue", []); // [{id, orderId, step, body, queuedAt}]
let selected = null; // order id shown in the detail view
let flushing = false;

function newId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// --- the map ------------------------------------------------------------------------------
const map = L.map("karta", { maxZoom: 18, zoomControl: false }).setView([58.41, 15.62], 12);
L.control.zoom({ zoomInTitle: "Zooma in", zoomOutTitle: "Zooma ut" }).addTo(map);
map.attributionControl.setPrefix('<a href="https://leafletjs.com" ' +
  'title="Leaflet, ett JavaScript-bibliotek för interaktiva kartor">Leaflet</a>');
if (CONFIG.tileUrl) L.tileLayer(CONFIG.tileUrl, { maxZoom: 18, attribution: "© OpenStreetMap" }).addTo(map);
const pins = L.layerGroup().addTo(map);
map.on("layeradd", (e) => setTimeout(() => { // the list holds the same: out of the tab order
  const el = e.layer.getElement && e.layer.getElement();
  if (el) el.setAttribute("tabindex", "-1");
}, 0));

// --- state: the server's list with the queued actions applied on top ------------------------
function current() {
  const byId = new Map(orders.map((o) => [o.order.order_id, { ...o, pending: 0 }]));
  for (const item of queue) {
    const o = byId.get(item.orderId);
    if (!o) continue;
    const step = STEPS[item.step];
    if (step.to) o.status = step.to;
    o.pending += 1;
  }
  return [...byId.values()];
}

function visible(list) { // the ones still to do first, then the finished ones
  const rank = { checked_in: 0, acknowledged: 1, issued: 2, checked_out: 3, cancelled: 4 };
  return list.slice().sort((a, b) => (rank[a.status] - rank[b.status]) ||
    a.order.start.localeCompare(b.order.start));
}

function render() {
  const list = visible(current());
  // The list is redrawn (every load, every answer): a keyboard user on one of its orders
  // stays on that order; a step button that this render disables hands focus on.
  const had = document.activeElement;
  const hadLine = had && $("lista").contains(had) ? had.closest("li[data-order]") : null;
  $("organisation").textContent = CONFIG.organisation;
  $("natet").textContent = navigator.onLine ? "● Ansluten" : "○ Inget nät";
  const waiting = queue.length;
  $("ko").hidden = waiting === 0;
  $("ko").textContent = waiting === 1 ? "1 väntar på nätet" : `${waiting} väntar på nätet`;
  $("uppdaterad").textContent = fetchedAt
    ? `Hämtad ${when(fetchedAt, { weekday: undefined })}${navigator.onLine ? "" : " (sparad på telefonen)"}`
    : "Inte hämtad ännu.";
  const ol = $("lista");
  ol.replaceChildren();
  pins.clearLayers();
  const bounds = [];
  if (!list.length) {
    const li = document.createElement("li");
    li.className = "muted";
    li.textContent = "Inga uppdrag just nu.";
    ol.appendChild(li);
  }
  // numbered by start time: a pin keeps its number whatever its status
  const byStart = list.slice().sort((a, b) => a.order.start.localeCompare(b.order.start));
  const number = new Map(byStart.map((o, i) => [o.order.order_id, i + 1]));
  list.forEach((o) => {
    const n = number.get(o.order.order_id);
    const li = document.createElement("li");
    li.dataset.order = o.order.order_id;
    const b = document.createElement("button");
    b.type = "button";
    const place = document.createElement("span");
    place.className = "plats";
    place.textContent = `${n}. ${o.order.place}`;
    const time = document.createElement("span");
    time.className = "tid";
    time.textContent = `${when(o.order.start)}–${clock(o.order.end)}`;
    const status = document.createElement("span");
    status.className = o.pending ? "status status-vantar" : "status";
    status.textContent = STATUS_SV[o.status] + (o.pending ? " – väntar på nätet" : "");
    b.append(place, time, status);
    b.addEventListener("click", () => show(o.order.order_id));
    li.appendChild(b);
    ol.appendChild(li);
    if (o.order.lat != null && o.order.lon != null && o.status !== "cancelled") {
      const icon = L.divIcon({ className: "", html: `<div class="nummer">${n}</div>`, iconSize: [26, 26] });
      const m = L.marker([o.order.lat, o.order.lon], { icon, keyboard: false, title: `${n}` });
      m.on("click", () => show(o.order.order_id));
      m.addTo(pins);
      bounds.push([o.order.lat, o.order.lon]);
    }
  });
  if (bounds.length && !render.fitted) {
    map.fitBounds(bounds, { padding: [30, 30], maxZoom: 15 });
    render.fitted = true;
  }
  if (hadLine) {
    const line = [...ol.querySelectorAll("li[data-order]")].find((x) => x.dataset.order === hadLine.dataset.order);
    if (line) line.querySelector("button").focus();
    else { ol.tabIndex = -1; ol.focus(); }
  }
  if (selected) detail(list.find((o) => o.order.order_id === selected));
  if (had && had.disabled && !$("detalj").hidden) nextStep().focus();
}

// Where focus goes when the button just used is no longer possible: the next step of the
// order (acknowledge → check in → check out → the outcome), else the order itself.
function nextStep() {
  const step = ["kvittera", "checka-in", "checka-ut"].map($).find((b) => !b.disabled);
  if (step) return step;
  if (!$("skicka-utfall").disabled) return $("utfall-text");
  return $("detalj");
}

function detail(o) {
  if (!o) { back(); return; }
  $("detalj-plats").textContent = o.order.place;
  $("detalj-tid").textContent = `${when(o.order.start)}–${clock(o.order.end)}`;
  $("detalj-uppgift").textContent = o.order.task;
  $("detalj-anteckning").textContent = o.order.reason || "–";
  $("detalj-prioritet").textContent = o.order.priority;
  $("detalj-status").textContent = STATUS_SV[o.status] +
    (o.pending ? ` (${o.pending} väntar på nätet)` : "");
  $("kvittera").disabled = !STEPS.acknowledge.from.includes(o.status);
  $("checka-in").disabled = !STEPS["check-in"].from.includes(o.status);
  $("checka-ut").disabled = !STEPS["check-out"].from.includes(o.status);
  $("skicka-utfall").disabled = !STEPS.outcome.from.includes(o.status);
  const link = $("rapportera-harifran");
  if (o.order.lat != null && o.order.lon != null) {
    // the place in the fragment: never sent to a server, never a token
    const frag = new URLSearchParams({ plats: `${o.order.lat},${o.order.lon}`, namn: o.order.place });
    link.href = `${CONFIG.reportUrl}#${frag.toString()}`;
  } else {
    link.href = `${CONFIG.reportUrl}#${new URLSearchParams({ namn: o.order.place }).toString()}`;
  }
}

function show(id) {
  selected = id;
  $("besked").textContent = "";
  $("lista-sektion").hidden = true;
  $("detalj").hidden = false;
  render();
  const o = current().find((x) => x.order.order_id === id);
  if (o && o.order.lat != null) map.setView([o.order.lat, o.order.lon], 16);
  $("detalj").focus();
}

function back() {
  const was = selected;
  selected = null;
  $("detalj").hidden = true;
  $("lista-sektion").hidden = false;
  const item = was && document.querySelector(`#lista li[data-order="${CSS.escape(was)}"] button`);
  if (item) item.focus();
}

function say(text) {
  $("meddelande").hidden = !text;
  $("meddelande").textContent = text || "";
}

// --- actions: queue first, then send ------------------------------------------------------
function act(step, body = {}) {
  const o = current().find((x) => x.order.order_id === selected);
  if (!o || !STEPS[step].from.includes(o.status)) return;
  const id = newId();
  queue.push({ id, orderId: selected, step, body: { ...body, action_id: id }, queuedAt: new Date().toISOString() });
  write("queue", queue);
  say("");
  // the change is announced (a live region); the queue line says when it waits for the net
  $("besked").textContent = `${STEPS[step].done}: ${o.order.place}.` +
    (navigator.onLine ? "" : " Skickas när nätet finns.");
  render();
  flush();
}

async function flush() {
  if (flushing || !queue.length) return;
  flushing = true;
  try {
    while (queue.length) {
      const item = queue[0];
      let response;
      try {
        response = await fetch(`${API}/${encodeURIComponent(item.orderId)}/${item.step}`, {
          method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json" }, body: JSON.stringify(item.body) });
      } catch { return; } // no network: stays queued, sent again (same id) later
      if (response.status === 401) { say("Inloggningen har gått ut. Logga in igen; åtgärderna väntar kvar."); return; }
      if (response.status === 429 || response.status >= 500) return; // later
      queue.shift();
      write("queue", queue);
      if (!response.ok) { // refused for good (e.g. the TiB cancelled the order meanwhile)
        let message = "Åtgärden kunde inte utföras.";
        try { message = (await response.json()).errors[0].message_sv; } catch { /* keep */ }
        say(`${STEPS[item.step].done} gick inte: ${message}`);
      } else {
        const state = await response.json();
        orders = orders.map((o) => (o.order.order_id === state.order.order_id ? state : o));
        write("orders", orders);
      }
      render();
    }
  } finally { flushing = false; }
  load();
}

async function load() {
  try {
    const response = await fetch(API, { credentials: "same-origin" });
    if (response.status === 401 || response.status === 403) {
      window.location.assign("/logga-in?next=/uppdrag");
      return;
    }
    if (!response.ok) return;
    orders = await response.json();
    fetchedAt = new Date().toISOString();
    write("orders", orders);
    write("fetchedAt", fetchedAt);
  } catch { /* offline: the saved list */ }
  render();
}

// --- wiring ---------------------------------------------------------------------------------
const cats = $("utfall-kategori");
for (const [code, name] of Object.entries(CONFIG.categories || {})) {
  const opt = document.createElement("option");
  opt.value = code;
  opt.textContent = name;
  cats.appendChild(opt);
}
$("tillbaka").addEventListener("click", back);
$("kvittera").addEventListener("click", () => act("acknowledge"));
$("checka-in").addEventListener("click", () => act("check-in"));
$("checka-ut").addEventListener("click", () => act("check-out"));
$("utfall-rapport").addEventListener("change", (e) => { $("rapport-falt").hidden = !e.target.checked; });
$("utfall").addEventListener("submit", (e) => {
  e.preventDefault();
  const body = { note: $("utfall-text").value };
  if ($("utfall-rapport").checked) {
    // the report's id is fixed now, so a resent outcome is one report
    body.incident = { category: cats.value, description: $("utfall-beskrivning").value,
      report_id: `uppdrag-${newId()}`, occurred_at: new Date().toISOString() };
  }
  act("outcome", body);
  $("utfall").reset();
  $("rapport-falt").hidden = true;
});
$("logga-ut-form").addEventListener("submit", () => {
  // nothing of the company's stays on the phone (actions not yet sent are lost: warned)
  for (const name of ["orders", "fetchedAt", "queue"]) localStorage.removeItem(`${KEY}:${name}`);
  if (window.caches) caches.keys().then((keys) => keys.forEach((k) => caches.delete(k)));
});
$("logga-ut").addEventListener("click", (e) => {
  if (queue.length && !window.confirm(`${queue.length} åtgärder har inte skickats än. Logga ut ändå?`)) e.preventDefault();
});
window.addEventListener("online", () => { render(); flush(); load(); });
window.addEventListener("offline", render);
document.addEventListener("visibilitychange", () => { if (!document.hidden) { flush(); load(); } });
setInterval(() => { if (queue.length) flush(); else load(); }, 20000);

if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/uppdrag-sw.js", { scope: "/uppdrag" }).catch(() => {});
}
render();
load().then(flush);
