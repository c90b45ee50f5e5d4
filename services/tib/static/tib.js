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
let legendKey = "";
function renderLegend(counts) { // category -> number of reports shown; redrawn on a change only
  const used = [...counts.keys()];
  const key = used.join("\n");
  if (key === legendKey) return;
  legendKey = key;
  const el = $("legend");
  el.replaceChildren();
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

// A burst of pushed reports (hundreds a second) is drawn once per frame, at most every
// RENDER_MS, not once per report: the page stays responsive and each report still shows
// well within a second.
const RENDER_MS = 250;
let renderPending = false, lastRender = 0;
function scheduleRender() {
  if (renderPending) return;
  renderPending = true;
  setTimeout(() => requestAnimationFrame(() => {
    renderPending = false;
    lastRender = performance.now();
    render();
  }), Math.max(0, lastRender + RENDER_MS - performance.now()));
}

// What the map and the list show is kept up to date, not redrawn: a push adds only the new
// reports' markers and lines, and those that age out of the window go in one batch from the
// end of the (newest first) order. Thousands of markers stay on the map between pushes.
const drawn = new Map(); // report id -> { r, t, marker, item }, the reports shown
const order = []; // the shown entries, newest first (as the list)
const shownCategories = new Map(); // category -> number shown (the legend)
const changed = new Set(); // ids pushed since the last render
let fullSync = true; // the window or the whole set changed: compare every report

function undraw(entry) {
  reportLayer.removeLayer(entry.marker);
  entry.item.remove();
  drawn.delete(entry.r.id);
  const n = shownCategories.get(entry.r.category) - 1;
  if (n > 0) shownCategories.set(entry.r.category, n);
  else shownCategories.delete(entry.r.category);
}

function draw(r, t) {
  const text = `${when(r.occurred_at)} ${label(r.category)} – ${r.area}`;
  const marker = L.circleMarker([r.lat, r.lon], { radius: 6, className: "rapport",
    color: r.duplicate ? "#888" : colour(r.category),
    dashArray: r.location_precision === "centroid" ? "3" : null });
  marker.bindTooltip(tip(text + (r.description ? `: ${r.description}` : ""))).addTo(reportLayer);
  const entry = { r, t, marker, item: li(text, { "data-id": r.id, class: r.fresh ? "new" : "" }) };
  // after every entry at least as new (equal times: in arrival order, as a stable sort)
  let lo = 0, hi = order.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (order[mid].t >= t) lo = mid + 1; else hi = mid;
  }
  $("reports").insertBefore(entry.item, lo < order.length ? order[lo].item : null);
  order.splice(lo, 0, entry);
  drawn.set(r.id, entry);
  shownCategories.set(r.category, (shownCategories.get(r.category) || 0) + 1);
}

// Labels and colours come with the catalogue: when it changes, everything is drawn anew.
function undrawAll() {
  reportLayer.clearLayers();
  $("reports").replaceChildren();
  drawn.clear();
  order.length = 0;
  shownCategories.clear();
  legendKey = "";
}

function render() {
  const since = Date.now() - hours * 3600e3;
  const ids = fullSync ? [...new Set([...drawn.keys(), ...reports.keys()])] : [...changed];
  fullSync = false;
  changed.clear();
  const gone = new Set();
  const add = [];
  for (const id of ids) {
    const r = reports.get(id), entry = drawn.get(id);
    const t = r ? Date.parse(r.occurred_at) : NaN;
    const show = r && t >= since;
    if (entry && (!show || entry.r !== r)) { gone.add(entry); undraw(entry); }
    if (show && (!entry || entry.r !== r)) add.push([r, t]);
  }
  if (gone.size) {
    const kept = order.filter((e) => !gone.has(e));
    order.length = 0;
    order.push(...kept);
  }
  // aged out of the window: the oldest, at the end of the order
  while (order.length && order[order.length - 1].t < since) undraw(order.pop());
  for (const [r, t] of add) draw(r, t);
  const count = `(${order.length})`;
  if ($("report-count").textContent !== count) $("report-count").textContent = count;
  $("reports").dataset.markers = String(reportLayer.getLayers().length);
  renderLegend(shownCategories);
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
  // each alarm as the server words it (services/tib/alarms.py), with the expected level
  const alerts = lb ? lb.alerts : [];
  for (const a of alerts) $("alerts").appendChild(li(a.sentence || `${a.area}, ${label(a.category)}: ${a.text}`));
  if (lb && !alerts.length) $("alerts").appendChild(li("Inga ovanliga ökningar den veckan.", { class: "muted" }));
  for (const d of data.decisions) $("decisions").appendChild(
    li(`${d.target}: ${d.measure} (${d.responsible.join(", ")}, t.o.m. ${d.until_week})`));
}

async function load() {
  const data = await getJSON(`${API}/live?kommun=${CONFIG.kommun}&hours=168`);
  if (JSON.stringify(data.categories) !== JSON.stringify(categories)) undrawAll();
  categories = data.categories;
  // merged, not replaced: reports pushed while this request ran stay
  for (const r of data.reports) if (!reports.has(r.id)) reports.set(r.id, r);
  renderLagesbild(data);
  fullSync = true;
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

// After a lost connection (the TiB restarted, the network dropped) the browser reconnects
// by itself; what was pushed meanwhile is fetched again: the live picture (reports are
// merged by id, so nothing shows twice) and the orders' states. Announced "Ansluten igen".
let lost = false;
async function catchUp() {
  try {
    await load();
    if (CONFIG.tasking) { await loadOrders(); recommend(); }
    $("nyheter").textContent = "Ansluten igen. Det som kom under avbrottet visas nu.";
  } catch (err) { setStatus(`Ansluten igen, men ${err.message}`); }
}

function connect() {
  const source = new EventSource(`${API}/stream?kommun=${CONFIG.kommun}`);
  source.onopen = () => {
    setStatus(lost ? "● Live: ansluten igen" : "● Live: ansluten");
    if (lost) { lost = false; catchUp(); }
  };
  source.onerror = () => {
    lost = true;
    setStatus("Förbindelsen bröts. Återansluter …");
    // The browser retries a dropped connection itself, but not one refused with an error
    // status (e.g. while a proxy answers 502): then a new connection, after a pause.
    if (source.readyState === EventSource.CLOSED) {
      clearTimeout(connect.retry);
      connect.retry = setTimeout(async () => {
        const probe = await fetch(`${API}/live?kommun=${CONFIG.kommun}&hours=1`,
          { credentials: "same-origin" }).catch(() => null);
        if (probe && probe.status === 401) window.location.assign("/logga-in?next=/tib");
        else connect();
      }, 5000);
    }
  };
  source.addEventListener("report", (e) => {
    const r = JSON.parse(e.data);
    r.fresh = true;
    reports.set(r.id, r);
    changed.add(r.id);
    scheduleRender();
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
const pushedAt = new Map(); // order id -> when its last state was pushed (performance.now)

function showOrder(state) {
  orderStates.set(state.order.order_id, state);
  pushedAt.set(state.order.order_id, performance.now());
  drawOrders();
}

// Every change is pushed, so a state pushed after this fetch was asked for is at least as
// new as the fetched one: it is kept (a catch-up after a reconnect never turns it back).
async function loadOrders() {
  const asked = performance.now();
  const states = await getJSON(`${API}/orders`);
  const newer = (id) => (pushedAt.get(id) ?? -1) > asked;
  const merged = new Map();
  for (const o of states) {
    const id = o.order.order_id;
    merged.set(id, newer(id) ? orderStates.get(id) : o);
  }
  for (const [id, o] of orderStates) if (!merged.has(id) && newer(id)) merged.set(id, o);
  orderStates.clear();
  for (const [id, o] of merged) orderStates.set(id, o);
  drawOrders();
}

function drawOrders() {
  const list = $("orders");
  const states = [...orderStates.values()].sort((a, b) => a.order.start.localeCompare(b.order.start));
  // A live `order` event redraws the list at any moment, also while a keyboard user is on
  // one of its buttons: remember which order's which control had focus, and put focus
  // back on the same control of the redrawn line (never lost to the page).
  const had = document.activeElement;
  const kept = had && list.contains(had) && had.closest("li[data-order]")
    ? { order: had.closest("li[data-order]").dataset.order, action: had.dataset.action } : null;
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
        const edit = orderButton("Ändra", `Ändra uppdraget: ${o.order.place}`, () => setEditing(o));
        edit.dataset.action = "edit";
        buttons.appendChild(edit);
      }
      const cancel = orderButton("Ställ in", `Ställ in uppdraget: ${o.order.place}`,
        () => cancelOrder(o));
      cancel.dataset.action = "cancel";
      buttons.appendChild(cancel);
      item.appendChild(buttons);
    }
    list.appendChild(item);
  }
  if (kept) {
    const line = [...list.querySelectorAll("li[data-order]")].find((x) => x.dataset.order === kept.order);
    // the same control; else (the order changed so it has gone) another of the line's, or the line
    const target = line && (line.querySelector(`button[data-action="${kept.action}"]`) ||
      line.querySelector("button"));
    if (target) target.focus();
    else if (line) { line.tabIndex = -1; line.focus(); }
    else { list.tabIndex = -1; list.focus(); }
  }
}

document.querySelectorAll("#windows button").forEach((b) => b.addEventListener("click", () => {
  document.querySelectorAll("#windows button").forEach((x) => {
    x.classList.toggle("active", x === b);
    x.setAttribute("aria-pressed", x === b ? "true" : "false");
  });
  hours = Number(b.dataset.hours);
  fullSync = true;
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
