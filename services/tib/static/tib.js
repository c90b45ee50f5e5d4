// The TiB's live picture: reports pushed by server-sent events, the lägesbild's hotspots,
// alerts and decisions, the recommendation and the order form. No external requests.
"use strict";
const CONFIG = JSON.parse(document.getElementById("config").textContent);
const API = "/api/v1/tib";
const reports = new Map(); // id -> report (the last 7 days)
let hours = 24;
let categories = {};
let editing = null; // the order id being changed, or null for a new order
let focused = false; // the map was fitted to the week's focus places

// Leaflet's own strings in Swedish; the lists beside the map hold what it shows.
const map = L.map("map", { maxZoom: 18, zoomControl: false }).setView([58.41, 15.62], 12);
L.control.zoom({ zoomInTitle: "Zooma in", zoomOutTitle: "Zooma ut" }).addTo(map);
map.attributionControl.setPrefix('<a href="https://leafletjs.com" ' +
  'title="Leaflet, ett JavaScript-bibliotek för interaktiva kartor">Leaflet</a>');
// Shapes and markers are mirrored in the lists: out of the tab order, not unnamed stops.
map.on("layeradd", (e) => setTimeout(() => {
  const el = e.layer.getElement && e.layer.getElement();
  if (el) el.setAttribute("tabindex", "-1");
}, 0));
if (CONFIG.tileUrl) L.tileLayer(CONFIG.tileUrl, { maxZoom: 18, attribution: "© OpenStreetMap" }).addTo(map);
const areaLayer = L.layerGroup().addTo(map);
const hotspotLayer = L.layerGroup().addTo(map);
const reportLayer = L.layerGroup().addTo(map);
const visitLayer = L.layerGroup().addTo(map);

const $ = (id) => document.getElementById(id);
const label = (code) => categories[code] || code;
const clockOf = (iso) => new Date(iso).toLocaleTimeString("sv-SE", { timeZone: "Europe/Stockholm",
  hour: "2-digit", minute: "2-digit" });
const when = (iso) => new Date(iso).toLocaleString("sv-SE", { timeZone: "Europe/Stockholm",
  weekday: "short", hour: "2-digit", minute: "2-digit", timeZoneName: "shortOffset" });
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

// Report markers coloured by category (a fixed palette in the catalogue's order), with a legend.
const PALETTE = ["#d62828", "#1d70b8", "#2a9d8f", "#8e44ad", "#e76f51", "#6a4c93", "#b5838d",
  "#3a5a40", "#bc6c25", "#005f73"];
const colour = (code) => {
  const codes = Object.keys(categories);
  const i = codes.indexOf(code);
  return i < 0 ? "#555" : PALETTE[i % PALETTE.length];
};
const legend = L.control({ position: "bottomleft" });
legend.onAdd = () => {
  const div = L.DomUtil.create("div", "legend");
  div.id = "legend";
  return div;
};
legend.addTo(map);
function renderLegend(shown) {
  const el = $("legend");
  el.replaceChildren();
  const used = [...new Set(shown.map((r) => r.category))];
  el.hidden = !used.length;
  for (const code of used) {
    const row = document.createElement("div");
    const dot = document.createElement("span");
    dot.className = "prick";
    dot.style.background = colour(code);
    row.append(dot, document.createTextNode(` ${label(code)}`));
    el.appendChild(row);
  }
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
    const marker = L.circleMarker([r.lat, r.lon], { radius: 6, className: "rapport",
      color: r.duplicate ? "#888" : colour(r.category),
      dashArray: r.location_precision === "centroid" ? "3" : null });
    marker.bindTooltip(tip(text + (r.description ? `: ${r.description}` : ""))).addTo(reportLayer);
    list.appendChild(li(text, { "data-id": r.id, class: r.fresh ? "new" : "" }));
  }
  $("report-count").textContent = `(${shown.length})`;
  renderLegend(shown);
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
  fitFocus();
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

// Open on the week's focus places (the hotspots: the urban area), not the whole kommun;
// the kommun's areas only while there are none. Once, so a TiB's own zooming stays.
function fitFocus() {
  if (focused) return;
  const focus = hotspotLayer.getLayers().map((l) => l.getBounds());
  if (focus.length) {
    const all = focus.reduce((a, b) => a.extend(b), L.latLngBounds(focus[0].getSouthWest(),
      focus[0].getNorthEast()));
    map.fitBounds(all.pad(0.3), { maxZoom: 14 });
    focused = true;
  } else if (areaLayer.getLayers().length) {
    map.fitBounds(L.featureGroup(areaLayer.getLayers()).getBounds());
  }
}

async function loadAreas() {
  const geojson = await getJSON(`${API}/areas.geojson?kommun=${CONFIG.kommun}`);
  const layer = L.geoJSON(geojson, { style: { color: "#457b9d", weight: 1, fillOpacity: 0.03 } });
  layer.addTo(areaLayer);
  fitFocus();
}

function setStatus(text) {
  if ($("live-status").textContent !== text) $("live-status").textContent = text;
}

function connect() {
  const source = new EventSource(`${API}/stream?kommun=${CONFIG.kommun}`);
  source.onopen = () => setStatus("● Live: ansluten");
  source.onerror = () => setStatus("Återansluter …");
  source.addEventListener("report", (e) => {
    const r = JSON.parse(e.data);
    r.fresh = true;
    reports.set(r.id, r);
    render();
    // A screen reader hears each pushed report (the list itself is redrawn, not announced).
    $("nyheter").textContent = `Ny rapport: ${label(r.category)} – ${r.area}, ${when(r.occurred_at)}`;
    // the recommendation re-reads the recent reports: fetch it again, once the burst is over
    if (CONFIG.tasking) {
      clearTimeout(connect.again);
      connect.again = setTimeout(() => recommend(), 3000);
    }
  });
  source.addEventListener("refresh", () => load());
  // an order changed (issued, edited, acknowledged, checked in, …): its line at once
  source.addEventListener("order", (e) => {
    const state = JSON.parse(e.data);
    if (CONFIG.tasking) showOrder(state);
  });
  // the token was revoked: log in again (the stream is closed by the server)
  source.addEventListener("revoked", () => {
    source.close();
    window.location.assign("/logga-in?next=/tib");
  });
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
    data.visits.forEach((v, i) => {
      const item = li(`${i + 1}. Patrull ${v.patrol}, ${clockOf(v.start)}–${clockOf(v.end)}: ${v.reason} `);
      const use = document.createElement("button");
      use.textContent = "Gör till uppdrag";
      use.addEventListener("click", () => fillOrder(v));
      item.appendChild(use);
      list.appendChild(item);
      const icon = L.divIcon({ className: "", iconSize: [54, 26],
        html: `<div class="pin">${i + 1} <small>${clockOf(v.start)}</small></div>` });
      L.marker([v.lat, v.lon], { icon, keyboard: false, alt: `Föreslagen patrullplats ${i + 1}` })
        .bindTooltip(tip(`${i + 1}. ${v.place}, ${clockOf(v.start)}–${clockOf(v.end)}: ${v.reason}`))
        .addTo(visitLayer);
    });
  } catch (err) { list.appendChild(li(err.message, { class: "muted" })); }
}

function fillOrder(v) {
  const f = $("order-form").elements;
  f.place.value = v.place; f.lat.value = v.lat; f.lon.value = v.lon; f.area.value = v.area || "";
  f.start.value = localInput(new Date(v.start)); f.end.value = localInput(new Date(v.end));
  f.reason.value = v.reason;
  f.place.focus();
}

// --- the order form: errors at their fields, a summary that takes focus ----------------

const ORDER_FIELDS = { place: "order-place", start: "order-start", end: "order-end",
  task: "order-task", assigned_to: "order-assigned" };
const ORDER_LABELS = { "order-place": "Plats", "order-start": "Från", "order-end": "Till",
  "order-task": "Uppgift", "order-assigned": "Väktarbolag" };

function clearOrderErrors() {
  for (const id of Object.values(ORDER_FIELDS)) {
    const field = $(id), note = $(`${id}-fel`);
    field.removeAttribute("aria-invalid");
    field.removeAttribute("aria-describedby");
    note.textContent = "";
    note.hidden = true;
  }
  $("order-error-list").replaceChildren();
  $("order-errors").hidden = true;
}

function showOrderErrors(errors) { // [{id, message}]; id null: the order as a whole
  clearOrderErrors();
  for (const e of errors) {
    const item = document.createElement("li");
    const field = e.id && $(e.id);
    if (field) {
      const note = $(`${e.id}-fel`);
      note.textContent = e.message;
      note.hidden = false;
      field.setAttribute("aria-invalid", "true");
      field.setAttribute("aria-describedby", note.id);
      const link = document.createElement("a");
      link.href = `#${e.id}`;
      link.textContent = `${ORDER_LABELS[e.id]}: ${e.message}`;
      link.addEventListener("click", (ev) => { ev.preventDefault(); field.focus(); });
      item.appendChild(link);
    } else {
      item.textContent = e.message;
    }
    $("order-error-list").appendChild(item);
  }
  $("order-errors").hidden = false;
  $("order-errors").focus();
}

function orderErrors(f) {
  const errors = [];
  if (!f.get("place").trim()) errors.push({ id: "order-place", message: "Ange en plats." });
  const start = new Date(f.get("start")), end = new Date(f.get("end"));
  if (isNaN(start.getTime())) errors.push({ id: "order-start", message: "Ange när uppdraget börjar." });
  if (isNaN(end.getTime())) errors.push({ id: "order-end", message: "Ange när uppdraget slutar." });
  else if (!isNaN(start.getTime()) && end <= start) {
    errors.push({ id: "order-end", message: "Slutet måste ligga efter början." });
  }
  if (!f.get("task").trim()) errors.push({ id: "order-task", message: "Ange en uppgift." });
  return errors;
}

function setEditing(state) {
  editing = state ? state.order.order_id : null;
  $("order-form-rubrik").textContent = state ? `Ändra uppdraget: ${state.order.place}` : "Nytt uppdrag";
  $("order-submit").textContent = state ? "Spara ändringen" : "Utfärda uppdrag";
  $("order-abort").hidden = !state;
  if (!state) return;
  const f = $("order-form").elements, o = state.order;
  f.place.value = o.place; f.task.value = o.task; f.priority.value = o.priority;
  f.start.value = localInput(new Date(o.start)); f.end.value = localInput(new Date(o.end));
  f.assigned_to.value = o.assigned_to || ""; f.area.value = o.area || "";
  f.lat.value = o.lat ?? ""; f.lon.value = o.lon ?? ""; f.reason.value = o.reason || "";
  f.place.focus();
}

function said(text) { // the outcome, announced, with focus on it (never lost to the page)
  $("order-message").textContent = text;
  $("order-message").focus();
}

async function issueOrder(event) {
  event.preventDefault();
  const f = new FormData($("order-form"));
  const problems = orderErrors(f);
  if (problems.length) return showOrderErrors(problems);
  clearOrderErrors();
  const body = { place: f.get("place"), task: f.get("task"), priority: f.get("priority"),
    start: new Date(f.get("start")).toISOString(), end: new Date(f.get("end")).toISOString(),
    assigned_to: f.get("assigned_to") || null, area: f.get("area") || null, reason: f.get("reason") || "",
    lat: f.get("lat") ? Number(f.get("lat")) : null, lon: f.get("lon") ? Number(f.get("lon")) : null };
  const changing = editing;
  try {
    await getJSON(changing ? `${API}/orders/${encodeURIComponent(changing)}` : `${API}/orders`,
      { method: changing ? "PUT" : "POST", body: JSON.stringify(body),
        headers: { "Content-Type": "application/json" } });
    setEditing(null);
    await loadOrders();
    said(changing ? "Uppdraget är ändrat." : "Uppdraget är utfärdat.");
  } catch (err) {
    const field = /väktarbolag/i.test(err.message) ? "order-assigned" : null;
    showOrderErrors([{ id: field, message: err.message }]);
  }
}

async function cancelOrder(state) {
  try {
    await getJSON(`${API}/orders/${encodeURIComponent(state.order.order_id)}/cancel`, {
      method: "POST", body: JSON.stringify({ note: "" }),
      headers: { "Content-Type": "application/json" } });
    if (editing === state.order.order_id) setEditing(null);
    await loadOrders();
    said(`Uppdraget är inställt: ${state.order.place}.`);
  } catch (err) { said(err.message); }
}

function orderButton(text, name, action) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  b.setAttribute("aria-label", name);
  b.addEventListener("click", action);
  return b;
}

const orderStates = new Map(); // order id -> the order's last state

function showOrder(state) {
  orderStates.set(state.order.order_id, state);
  drawOrders();
}

async function loadOrders() {
  const states = await getJSON(`${API}/orders`);
  orderStates.clear();
  for (const o of states) orderStates.set(o.order.order_id, o);
  drawOrders();
}

function drawOrders() {
  const list = $("orders");
  const states = [...orderStates.values()].sort((a, b) => a.order.start.localeCompare(b.order.start));
  list.replaceChildren();
  if (!states.length) list.appendChild(li("Inga uppdrag ännu.", { class: "muted" }));
  for (const o of states) {
    const text = `${when(o.order.start)}–${when(o.order.end)} ${o.order.place}: ${o.order.task}`;
    const item = li(`${text} [${o.status_sv}${o.holder ? ", " + o.holder : ""}]`,
      { "data-order": o.order.order_id });
    if (CONFIG.tasking && ["issued", "acknowledged", "checked_in"].includes(o.status)) {
      const buttons = document.createElement("div");
      buttons.className = "knappar";
      if (o.status !== "checked_in") {
        buttons.appendChild(orderButton("Ändra", `Ändra uppdraget: ${o.order.place}`,
          () => setEditing(o)));
      }
      buttons.appendChild(orderButton("Ställ in", `Ställ in uppdraget: ${o.order.place}`,
        () => cancelOrder(o)));
      item.appendChild(buttons);
    }
    list.appendChild(item);
  }
}

document.querySelectorAll("#windows button").forEach((b) => b.addEventListener("click", () => {
  document.querySelectorAll("#windows button").forEach((x) => {
    x.classList.toggle("active", x === b);
    x.setAttribute("aria-pressed", x === b ? "true" : "false");
  });
  hours = Number(b.dataset.hours);
  render();
}));
function defaultShift() { // a new order: the next whole hour's four-hour shift
  const start = new Date(); start.setMinutes(60, 0, 0);
  $("order-form").elements.start.value = localInput(start);
  $("order-form").elements.end.value = localInput(new Date(start.getTime() + 4 * 3600e3));
}

if (CONFIG.tasking) {
  const start = new Date(); start.setMinutes(60, 0, 0);
  $("recommend-form").elements.from.value = localInput(start);
  // a new order starts as the next whole hour's four-hour shift (typed dates are slow)
  defaultShift();
  $("recommend-form").addEventListener("submit", recommend);
  $("order-form").addEventListener("submit", issueOrder);
  $("order-abort").addEventListener("click", () => { setEditing(null); clearOrderErrors();
    $("order-form").reset(); defaultShift(); said("Ändringen är avbruten."); });
} else {
  document.querySelectorAll(".tasking").forEach((s) => s.remove());
}
loadAreas().catch(() => {});
connect(); // before the first load, so nothing accepted in between is missed
load().then(() => { if (CONFIG.tasking) { recommend(); loadOrders(); } })
  .catch((err) => { $("live-status").textContent = err.message; });
