/* The report form. Works on a poor connection: a submission is built once (with a
   report_id made here, once per form fill), kept in localStorage until the server has
   answered, and re-sent unchanged, so a retry can never make two reports. */
(function () {
  "use strict";
  // Settings come as a JSON data block (never run), so the page needs no inline script.
  var cfg = JSON.parse(document.getElementById("config").textContent || "{}");
  var KEY = "lagesbild.nyckel", ME = "lagesbild.jag", PENDING = "lagesbild.vantande";
  var $ = function (id) { return document.getElementById(id); };
  var token = null, me = null, map = null, marker = null, place = null;
  var reportId = newId(), sending = false;

  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes); // randomUUID needs https; this does not
    return Array.prototype.map.call(bytes, function (b) {
      return (b + 256).toString(16).slice(1);
    }).join("");
  }

  function pad(n) { return String(n).padStart(2, "0"); }

  function localInput(d) {
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) +
      "T" + pad(d.getHours()) + ":" + pad(d.getMinutes());
  }

  function isoWithOffset(d) {
    var off = -d.getTimezoneOffset(), abs = Math.abs(off);
    return localInput(d) + ":" + pad(d.getSeconds()) + (off >= 0 ? "+" : "-") +
      pad(Math.floor(abs / 60)) + ":" + pad(abs % 60);
  }

  function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }

  function api(method, path, body) {
    return fetch(path, {
      method: method,
      headers: { "Authorization": "Bearer " + token, "Content-Type": "application/json" },
      body: body ? JSON.stringify(body) : undefined,
    });
  }

  function show(text, kind, status) {
    $("kvitto-text").textContent = text;
    $("kvitto-text").className = kind || "";
    $("kvitto-status").textContent = status || "";
    if (text && $("kvitto").scrollIntoView) $("kvitto").scrollIntoView({ block: "nearest" });
  }

  // --- the token ------------------------------------------------------------------

  function readToken() {
    var m = location.hash.match(/nyckel=([^&]+)/);
    if (m) {
      localStorage.setItem(KEY, decodeURIComponent(m[1]));
      localStorage.removeItem(ME);
      history.replaceState(null, "", location.pathname); // keep it out of the history
    }
    return localStorage.getItem(KEY);
  }

  function askToken(message) {
    $("nyckel-ruta").hidden = false;
    $("rapport").hidden = true;
    $("nyckel-fel").textContent = message || "";
  }

  async function start() {
    token = readToken();
    if (!token) return askToken();
    var cached = localStorage.getItem(ME);
    if (cached) setup(JSON.parse(cached)); // usable offline; refreshed below
    try {
      var r = await api("GET", "/api/v1/me");
      if (r.status === 401) {
        localStorage.removeItem(KEY);
        localStorage.removeItem(ME);
        return askToken("Nyckeln gäller inte längre. Ange en ny.");
      }
      if (r.ok) {
        var fresh = await r.json();
        localStorage.setItem(ME, JSON.stringify(fresh));
        if (!cached) setup(fresh);
      }
    } catch (e) {
      if (!cached) show("Ingen kontakt med servern. Försök igen när du har täckning.", "fel");
    }
    resumePending();
  }

  // --- the form -------------------------------------------------------------------

  function setup(who) {
    me = who;
    $("nyckel-ruta").hidden = true;
    $("rapport").hidden = false;
    $("vem").textContent = me.organisation + " · " + me.kommun_name;
    var sources = Object.keys(me.sources);
    $("kalla").replaceChildren();
    sources.forEach(function (code) {
      $("kalla").add(new Option(me.sources[code], code));
    });
    $("kalla-rad").hidden = sources.length < 2;
    $("omrade").length = 1;
    me.areas.forEach(function (name) { $("omrade").add(new Option(name, name)); });
    $("tid").value = localInput(new Date());
    if (!map) setupMap();
  }

  function setupMap() {
    var centre = me.centre || [59.33, 18.07];
    map = L.map("karta").setView(centre, 12);
    if (cfg.tileUrl) {
      L.tileLayer(cfg.tileUrl, { maxZoom: 19, attribution: "© OpenStreetMap" }).addTo(map);
    }
    api("GET", "/api/v1/areas.geojson").then(function (r) {
      return r.ok ? r.json() : null;
    }).then(function (data) {
      if (data) {
        L.geoJSON(data, {
          interactive: false, // taps go to the map, not the polygons
          style: { color: "#1d4e89", weight: 1, fillOpacity: 0.04 },
        }).addTo(map);
      }
    }).catch(function () { /* the areas are a help, not a need */ });
    map.on("click", function (e) { setPlace(e.latlng.lat, e.latlng.lng); });
  }

  function setPlace(lat, lon) {
    if (sending) return;
    place = { lat: Number(lat.toFixed(6)), lon: Number(lon.toFixed(6)) };
    if (marker) marker.setLatLng([lat, lon]);
    else marker = L.circleMarker([lat, lon], { radius: 9, color: "#a00", weight: 3 }).addTo(map);
    $("plats-text").textContent = "Vald plats: " + place.lat + ", " + place.lon;
  }

  function usePosition() {
    if (!navigator.geolocation) return show("Telefonen kan inte ange position.", "fel");
    $("plats-text").textContent = "Hämtar position …";
    navigator.geolocation.getCurrentPosition(function (pos) {
      setPlace(pos.coords.latitude, pos.coords.longitude);
      map.setView([pos.coords.latitude, pos.coords.longitude], 16);
    }, function () {
      $("plats-text").textContent = "Positionen gick inte att hämta. Tryck på kartan i stället.";
    }, { enableHighAccuracy: true, timeout: 15000 });
  }

  function toggleNoll() {
    var noll = $("nollrapport").checked;
    $("handelse").hidden = noll;
    $("noll").hidden = !noll;
    $("skicka").textContent = noll ? "Skicka nollrapport" : "Skicka rapport";
  }

  function buildJob() {
    var source = $("kalla").value || undefined;
    if ($("nollrapport").checked) {
      return { kind: "noll", path: "/api/v1/nollrapporter",
        body: { source: source, area: $("omrade").value || null } };
    }
    if (!$("kategori").value) return show("Välj en kategori.", "fel");
    if (!place) return show("Tryck på kartan (eller använd din position) för att ange plats.", "fel");
    var when = new Date($("tid").value);
    if (isNaN(when.getTime())) return show("Ange en tidpunkt.", "fel");
    return { kind: "report", path: "/api/v1/reports", body: {
      report_id: reportId, category: $("kategori").value, source: source,
      occurred_at: isoWithOffset(when), lat: place.lat, lon: place.lon,
      description: $("beskrivning").value.trim(),
    } };
  }

  function lock(on) {
    sending = on;
    $("falt").disabled = on;
    $("skicka").disabled = on;
  }

  async function onSubmit(ev) {
    ev.preventDefault();
    if (sending) return;
    var job = buildJob();
    if (!job) return;
    localStorage.setItem(PENDING, JSON.stringify(job));
    await send(job);
  }

  // --- sending, retrying, the receipt ---------------------------------------------

  async function send(job) {
    lock(true);
    $("skicka-igen").hidden = true;
    show("Skickar …");
    for (var attempt = 0; ; attempt++) {
      var r = null;
      try { r = await api("POST", job.path, job.body); } catch (e) { r = null; }
      if (r && r.status < 500 && r.status !== 429) return settle(job, r);
      if (attempt >= 4) break;
      var after = r && Number(r.headers.get("Retry-After"));
      var wait = after ? after * 1000 : Math.min(30000, 1000 * Math.pow(2, attempt));
      show("Ingen kontakt med servern – försöker igen om " + Math.round(wait / 1000) + " s …");
      await sleep(wait);
    }
    show("Kunde inte skicka. Rapporten finns kvar i telefonen; tryck på Skicka igen " +
      "när du har täckning.", "fel");
    $("skicka-igen").hidden = false;
    sending = false;
  }

  async function settle(job, r) {
    var data = {};
    try { data = await r.json(); } catch (e) { /* keep the status alone */ }
    if (r.status === 401) {
      lock(false);
      localStorage.removeItem(KEY);
      return askToken("Nyckeln gäller inte längre. Ange en ny; rapporten skickas sedan.");
    }
    localStorage.removeItem(PENDING);
    lock(false);
    if (!r.ok) {
      // Nothing was published: the same report_id may be used again once fixed.
      var reasons = (data.errors || []).map(function (e) { return e.message_sv; });
      return show("Rapporten skickades inte: " + (reasons.join(" ") || r.status), "fel");
    }
    if (job.kind === "noll") {
      $("nollrapport").checked = false;
      toggleNoll();
      return show(data.message_sv, "ok");
    }
    var receipt = data.receipts[0];
    show("Tack! Rapporten är mottagen.", "ok", "Rapport-id: " + receipt.report_id + ". I kö …");
    resetForm();
    followStatus(receipt);
  }

  function resetForm() {
    reportId = newId(); // a new form fill is a new report
    $("kategori").value = "";
    $("beskrivning").value = "";
    $("tid").value = localInput(new Date());
    place = null;
    if (marker) { marker.remove(); marker = null; }
    $("plats-text").textContent = "Ingen plats vald.";
  }

  async function followStatus(receipt) {
    for (var i = 0; i < 40; i++) {
      await sleep(i < 10 ? 1500 : 5000);
      try {
        var r = await api("GET", receipt.status_url);
        if (!r.ok) continue;
        var s = await r.json();
        if (s.status === "stored") {
          return show("Tack! Rapporten är mottagen.", "ok", "Rapporten är sparad i lägesbilden.");
        }
        if (s.status === "rejected") {
          return show("Rapporten avvisades.", "fel", s.reason ? s.reason.message_sv : "");
        }
      } catch (e) { /* offline for a while: try again */ }
    }
  }

  function resumePending() {
    var saved = localStorage.getItem(PENDING);
    if (saved && !sending) send(JSON.parse(saved));
  }

  // --- wiring ---------------------------------------------------------------------

  $("rapport").addEventListener("submit", onSubmit);
  $("nollrapport").addEventListener("change", toggleNoll);
  $("min-position").addEventListener("click", usePosition);
  $("skicka-igen").addEventListener("click", function () { resumePending(); });
  $("spara-nyckel").addEventListener("click", function () {
    var value = $("nyckel").value.trim();
    if (!value) return;
    localStorage.setItem(KEY, value);
    localStorage.removeItem(ME);
    start();
  });
  $("byt-nyckel").addEventListener("click", function (ev) {
    ev.preventDefault();
    localStorage.removeItem(KEY);
    localStorage.removeItem(ME);
    askToken();
  });
  window.addEventListener("online", resumePending);
  start();
})();
