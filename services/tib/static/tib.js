// The TiB's live picture: reports pushed by server-sent events, the lägesbild's hotspots,
// alerts and decisions, the recommendation and the order form. No external requests.
"use strict";
const CONFIG = JSON.parse(document.getElementById("config").textContent);
const API = "/api/v1/tib";
const reports = new Map(); // id -> report (the last 7 days)
let hours = 24;
let categories = {};

const map = L.map("map", { maxZoom: 18 }).setView([58.41, 15.62], 12);
if (CONFIG.tileUrl) L.tileLayer(CONFIG.tileUrl, { maxZoom: 18, attribution: "© OpenStreetMap" }).addTo(map);
const areaLayer = L.layerGroup().addTo(map);
const hotspotLayer = L.layerGroup().addTo(map);
const reportLayer = L.layerGroup().addTo(map);
const visitLayer = L.layerGroup().addTo(map);

const $ = (id) => document.getElementById(id);
const label = (code) => categories[code] || code;
const when = (iso) => new Date(iso).toLocaleString("sv-SE", { timeZone: "Europe/Stockholm",
  weekday: "short", hour: "2-digit", minute: "2-digit" });
// User text goes into the page as text, never as markup: tooltips get a DOM node.
function tip(text) {
  const el = document.createElement("span");
  el.textContent = text;
  return el;
}
function li(text, attrs = {}) {
  const el = document.createElement("li");
  el.textContent = text;
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}
async function getJSON(url, options) {
  const response = await fetch(url, { credentials: "same-origin", ...options });
  const body = await response.json();
  if (!response.ok) throw new Error((body.errors || [{}])[0].message_sv || response.statusText);
  return body;
}

function render() {
  const since = Date.now() - hours * 3600e3;
  const shown = [...reports.values()].filter((r) => Date.parse(r.occurred_at) >= since)
    .sort((a, b) => Date.parse(b.occurred_at) - Date.parse(a.occurred_at));
  reportLayer.clearLayers();
  const list = $("reports");
  list.replaceChildren();
  for (const r of shown) {
    const text = `${when(r.occurred_at)} ${label(r.category)} – ${r.area}`;
    const marker = L.circleMarker([r.lat, r.lon], { radius: 6, color: r.duplicate ? "#888" : "#d62828",
      dashArray: r.location_precision === "centroid" ? "3" : null });
    marker.bindTooltip(tip(text + (r.description ? `: ${r.description}` : ""))).addTo(reportLayer);
    list.appendChild(li(text, { "data-id": r.id, class: r.fresh ? "new" : "" }));
  }
  $("report-count").textContent = `(${shown.length})`;
}

function renderLagesbild(data) {
  hotspotLayer.clearLayers();
  for (const id of ["hotspots", "alerts", "decisions"]) $(id).replaceChildren();
  const lb = data.lagesbild;
  $("week").textContent = lb ? `vecka ${lb.iso_week}` : "(ingen ännu)";
  for (const h of lb ? lb.hotspots : []) {
    const text = `${h.name}: ${h.count} händelser (${h.trend})`;
    L.polygon(h.polygon[0].map(([lon, lat]) => [lat, lon]), { color: "#e76f51", weight: 2 })
      .bindTooltip(tip(text)).addTo(hotspotLayer);
    $("hotspots").appendChild(li(text));
  }
  for (const a of lb ? lb.alerts : []) $("alerts").appendChild(li(`${a.area}, ${label(a.category)}: ${a.text}`));
  for (const d of data.decisions) $("decisions").appendChild(
    li(`${d.target}: ${d.measure} (${d.responsible.join(", ")}, t.o.m. ${d.until_week})`));
}

async function load() {
  const data = await getJSON(`${API}/live?kommun=${CONFIG.kommun}&hours=168`);
  categories = data.categories;
  // merged, not replaced: reports pushed while this request ran stay
  for (const r of data.reports) if (!reports.has(r.id)) reports.set(r.id, r);
  renderLagesbild(data);
  render();
}

async function loadAreas() {
  const geojson = await getJSON(`${API}/areas.geojson?kommun=${CONFIG.kommun}`);
  const layer = L.geoJSON(geojson, { style: { color: "#457b9d", weight: 1, fillOpacity: 0.03 } });
  layer.addTo(areaLayer);
  map.fitBounds(layer.getBounds());
}

function connect() {
  const source = new EventSource(`${API}/stream?kommun=${CONFIG.kommun}`);
  source.onopen = () => { $("live-status").textContent = "● Live"; };
  source.onerror = () => { $("live-status").textContent = "Återansluter …"; };
  source.addEventListener("report", (e) => {
    const r = JSON.parse(e.data);
    r.fresh = true;
    reports.set(r.id, r);
    render();
  });
  source.addEventListener("refresh", () => load());
}

// --- tasking ---------------------------------------------------------------------------

const localInput = (date) => new Date(date.getTime() - date.getTimezoneOffset() * 60e3)
  .toISOString().slice(0, 16);

async function recommend(event) {
  if (event) event.preventDefault();
  const form = new FormData($("recommend-form"));
  const params = new URLSearchParams({ kommun: CONFIG.kommun, hours: form.get("hours"),
    patrols: form.get("patrols") });
  if (form.get("from")) params.set("from", new Date(form.get("from")).toISOString());
  const list = $("visits");
  list.replaceChildren();
  visitLayer.clearLayers();
  try {
    const data = await getJSON(`${API}/recommendation?${params}`);
    if (!data.visits.length) list.appendChild(li(data.message_sv || "Inget förslag.", { class: "muted" }));
    for (const v of data.visits) {
      const item = li(`Patrull ${v.patrol}: ${v.reason} `);
      const use = document.createElement("button");
      use.textContent = "Gör till uppdrag";
      use.addEventListener("click", () => fillOrder(v));
      item.appendChild(use);
      list.appendChild(item);
      L.marker([v.lat, v.lon]).bindTooltip(tip(v.reason)).addTo(visitLayer);
    }
  } catch (err) { list.appendChild(li(err.message, { class: "muted" })); }
}

function fillOrder(v) {
  const f = $("order-form").elements;
  f.place.value = v.place; f.lat.value = v.lat; f.lon.value = v.lon; f.area.value = v.area || "";
  f.start.value = localInput(new Date(v.start)); f.end.value = localInput(new Date(v.end));
  f.reason.value = v.reason;
}

async function issueOrder(event) {
  event.preventDefault();
  const f = new FormData($("order-form"));
  const body = { place: f.get("place"), task: f.get("task"), priority: f.get("priority"),
    start: new Date(f.get("start")).toISOString(), end: new Date(f.get("end")).toISOString(),
    assigned_to: f.get("assigned_to") || null, area: f.get("area") || null, reason: f.get("reason") || "",
    lat: f.get("lat") ? Number(f.get("lat")) : null, lon: f.get("lon") ? Number(f.get("lon")) : null };
  try {
    await getJSON(`${API}/orders`, { method: "POST", body: JSON.stringify(body),
      headers: { "Content-Type": "application/json" } });
    $("order-message").textContent = "Uppdraget är utfärdat.";
    loadOrders();
  } catch (err) { $("order-message").textContent = err.message; }
}

async function loadOrders() {
  const list = $("orders");
  list.replaceChildren();
  for (const o of await getJSON(`${API}/orders`)) {
    const text = `${when(o.order.start)}–${when(o.order.end)} ${o.order.place}: ${o.order.task}`;
    list.appendChild(li(`${text} [${o.status_sv}${o.holder ? ", " + o.holder : ""}]`,
      { "data-order": o.order.order_id }));
  }
}

document.querySelectorAll("#windows button").forEach((b) => b.addEventListener("click", () => {
  document.querySelectorAll("#windows button").forEach((x) => x.classList.toggle("active", x === b));
  hours = Number(b.dataset.hours);
  render();
}));
if (CONFIG.tasking) {
  const start = new Date(); start.setMinutes(60, 0, 0);
  $("recommend-form").elements.from.value = localInput(start);
  $("recommend-form").addEventListener("submit", recommend);
  $("order-form").addEventListener("submit", issueOrder);
} else {
  document.querySelectorAll(".tasking").forEach((s) => s.remove());
}
loadAreas().catch(() => {});
connect(); // before the first load, so nothing accepted in between is missed
load().then(() => { if (CONFIG.tasking) { recommend(); loadOrders(); } })
  .catch((err) => { $("live-status").textContent = err.message; });
