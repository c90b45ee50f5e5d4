/* The report form. Works on a poor connection: a submission is built once (with a
   report_id made here, once per form fill), kept in localStorage until the server has
   answered, and re-sent unchanged, so a retry can never make two reports. */
(function () {
  "use strict";
  // Settings come as a JSON data block (never run), so the page needs no inline script.
  var cfg = JSON.parse(document.getElementById("config").textContent || "{}");
  var KEY = "lagesbild.nyckel", ME = "lagesbild.jag", PENDING = "lagesbild.vantande";
  var AREAS = "lagesbild.omraden", ORDER = "lagesbild.kategorier";
  var $ = function (id) { return document.getElementById(id); };
  var token = null, me = null, map = null, marker = null, place = null, places = [];
  var reportId = newId(), sending = false;
  var areas = null, areaLayer = null, nameLayer = null, placeLayer = null;
  var photo = null; // {blob, url}: the resized photo to send with the report
  var prefill = null; // a place from the address (#plats=lat,lon&namn=…), applied once set up
  var DARK = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;

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

  // --- errors: all at once, at their fields, with a summary that takes focus ----------

  var FIELD_IDS = { category: "kategori", occurred_at: "tid", lat: "plats-sok", lon: "plats-sok",
    location_precision: "plats-sok", description: "beskrivning", source: "kalla",
    photo: "foto" };
  var LABELS = { kategori: "Kategori", "plats-sok": "Plats", tid: "Tidpunkt",
    beskrivning: "Beskrivning", kalla: "Jag rapporterar som", foto: "Foto" };

  // The server's words for an API client name coordinate systems; a guard gets plain Swedish.
  function plainMessage(e) {
    if (e.code === "outside_kommun") return outsideMessage();
    if (e.code === "future_time") return "Tidpunkten ligger i framtiden. Ange när det hände.";
    if (e.code === "too_old") return "Händelsen är för gammal för att rapporteras här.";
    return e.message_sv;
  }

  // Where focus goes for a field: the category group's chosen (or first) button.
  function focusTarget(field) {
    if (field.id === "kategori") {
      return field.querySelector("input:checked") || field.querySelector("input");
    }
    return field;
  }

  // One field's error at once (a place outside the kommun, a file that is no photo).
  function fieldError(id, message) {
    var field = $(id), note = $(field.getAttribute("data-fel"));
    note.textContent = message;
    note.hidden = false;
    field.setAttribute("aria-invalid", "true");
    var ids = (field.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
    if (ids.indexOf(note.id) < 0) ids.push(note.id);
    field.setAttribute("aria-describedby", ids.join(" "));
  }

  function clearFieldError(id) {
    var field = $(id), note = $(field.getAttribute("data-fel"));
    if (!field.getAttribute("aria-invalid")) return;
    field.removeAttribute("aria-invalid");
    note.textContent = "";
    note.hidden = true;
    var ids = (field.getAttribute("aria-describedby") || "").split(" ").filter(function (x) {
      return x && x !== note.id;
    });
    if (ids.length) field.setAttribute("aria-describedby", ids.join(" "));
    else field.removeAttribute("aria-describedby");
  }

  function clearErrors() {
    document.querySelectorAll("[data-fel]").forEach(function (field) {
      field.removeAttribute("aria-invalid");
      var note = $(field.getAttribute("data-fel"));
      note.textContent = "";
      note.hidden = true;
      var ids = (field.getAttribute("aria-describedby") || "").split(" ").filter(function (id) {
        return id && id !== note.id;
      });
      if (ids.length) field.setAttribute("aria-describedby", ids.join(" "));
      else field.removeAttribute("aria-describedby");
    });
    $("fel-lista").replaceChildren();
    $("fel-ruta").hidden = true;
  }

  // errors: [{id, message}] (id: a field's element id, or null for the form as a whole)
  function showErrors(errors) {
    clearErrors();
    errors.forEach(function (e) {
      var item = document.createElement("li");
      var field = e.id && $(e.id);
      if (field) {
        var note = $(field.getAttribute("data-fel"));
        note.textContent = (note.textContent ? note.textContent + " " : "") + e.message;
        note.hidden = false;
        field.setAttribute("aria-invalid", "true");
        var ids = (field.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
        if (ids.indexOf(note.id) < 0) ids.push(note.id);
        field.setAttribute("aria-describedby", ids.join(" "));
        var link = document.createElement("a");
        link.href = "#" + e.id;
        link.textContent = (LABELS[e.id] || "") + ": " + e.message;
        link.addEventListener("click", function (ev) {
          ev.preventDefault();
          focusTarget(field).focus();
        });
        item.appendChild(link);
      } else {
        item.textContent = e.message;
      }
      $("fel-lista").appendChild(item);
    });
    $("fel-ruta").hidden = false;
    $("fel-ruta").focus();
  }

  // --- the token ------------------------------------------------------------------

  // The address's fragment (never sent to a server): the token (#nyckel=…) and a place to
  // report from (#plats=lat,lon&namn=…, the guards' "rapportera härifrån" link).
  function readFragment() {
    var params = new URLSearchParams(location.hash.replace(/^#/, ""));
    var key = params.get("nyckel"), at = params.get("plats");
    if (key) {
      localStorage.setItem(KEY, key);
      localStorage.removeItem(ME);
    }
    if (at !== null) prefill = parsePlace(at, params.get("namn"));
    if (key || at !== null) history.replaceState(null, "", location.pathname); // out of the history
  }

  function parsePlace(at, name) {
    var parts = at.split(",").map(function (p) { return Number(p.trim()); });
    name = (name || "").trim().slice(0, 100);
    if (parts.length !== 2 || !parts.every(isFinite) || Math.abs(parts[0]) > 90 ||
        Math.abs(parts[1]) > 180) {
      return { bad: true };
    }
    return { lat: parts[0], lon: parts[1], name: name };
  }

  function applyPrefill() {
    if (!prefill || !map) return;
    var p = prefill;
    prefill = null;
    if (p.bad) {
      return fieldError("plats-sok", "Länken hade ingen giltig plats. Välj platsen här i stället.");
    }
    $("plats-sok").value = p.name;
    setPlace(p.lat, p.lon, p.name, Boolean(p.name));
    map.setView([p.lat, p.lon], 14, { animate: false });
  }

  function readToken() {
    readFragment();
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
    orderCategories();
    if (!map) setupMap();
    loadPlaces();
    applyPrefill();
  }

  // --- the categories: large buttons, the organisation's most used first -------------

  function orderCategories() {
    var saved = null;
    try { saved = JSON.parse(localStorage.getItem(ORDER) || "null"); } catch (e) { saved = null; }
    if (saved && saved.organisation === me.organisation) arrange(saved.codes);
    api("GET", "/api/v1/categories").then(function (r) {
      return r.ok ? r.json() : null;
    }).then(function (data) {
      if (!data) return;
      var codes = data.categories.map(function (c) { return c.code; });
      localStorage.setItem(ORDER, JSON.stringify({ organisation: me.organisation, codes: codes }));
      arrange(codes);
    }).catch(function () { /* offline: the saved order, or the catalogue's */ });
  }

  function arrange(codes) {
    var box = $("kategori-knappar");
    if (box.contains(document.activeElement)) return; // never move what is being used
    codes.forEach(function (code) {
      var button = box.querySelector('label[data-kod="' + CSS.escape(code) + '"]');
      if (button) box.appendChild(button);
    });
  }

  function chosenCategory() {
    var chosen = document.querySelector('input[name="kategori"]:checked');
    return chosen ? chosen.value : "";
  }

  function setupMap() {
    var centre = me.centre || [59.33, 18.07];
    // Leaflet's own strings in Swedish; Enter on the focused map picks its centre.
    map = L.map("karta", { zoomControl: false, zoomSnap: 0.5 }).setView(centre, 12);
    L.control.zoom({ zoomInTitle: "Zooma in", zoomOutTitle: "Zooma ut" }).addTo(map);
    map.attributionControl.setPrefix('<a href="https://leafletjs.com" ' +
      'title="Leaflet, ett JavaScript-bibliotek för interaktiva kartor">Leaflet</a>');
    map.getContainer().addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" && ev.target === map.getContainer()) {
        ev.preventDefault();
        var c = map.getCenter();
        setPlace(c.lat, c.lng, "kartans mitt");
      }
    });
    background().forEach(function (layer) { layer.addTo(map); });
    nameLayer = L.layerGroup().addTo(map);
    placeLayer = L.layerGroup().addTo(map);
    map.on("zoomend", zoomClass);
    zoomClass();
    // The kommun's areas: drawn at once from the phone's copy, then refreshed.
    var saved = null;
    try { saved = JSON.parse(localStorage.getItem(AREAS) || "null"); } catch (e) { saved = null; }
    if (saved && saved.kommun === me.kommun) drawAreas(saved.geojson, true);
    api("GET", "/api/v1/areas.geojson").then(function (r) {
      return r.ok ? r.json() : null;
    }).then(function (data) {
      if (!data) return;
      try {
        localStorage.setItem(AREAS, JSON.stringify({ kommun: me.kommun, geojson: data }));
      } catch (e) { /* too large to keep: drawn for this visit only */ }
      drawAreas(data, !saved);
    }).catch(function () { /* offline: the phone's copy, if any */ });
    map.on("click", function (e) { setPlace(e.latlng.lat, e.latlng.lng); });
    if (DARK && DARK.addEventListener) DARK.addEventListener("change", restyle);
  }

  // The configured background: a WMS (a municipality's or Lantmäteriet's map) or XYZ /
  // WMTS tiles. Without internet they stay blank; the areas and names below still show.
  function background() {
    if (cfg.wmsUrl && cfg.wmsLayers) {
      return [L.tileLayer.wms(cfg.wmsUrl, { layers: cfg.wmsLayers, format: "image/png",
        transparent: false, maxZoom: 19, attribution: cfg.wmsAttribution || "" })];
    }
    if (cfg.tileUrl) {
      return [L.tileLayer(cfg.tileUrl, { maxZoom: 19, attribution: cfg.tileAttribution || "" })];
    }
    return [];
  }

  function colours() {
    var dark = DARK && DARK.matches;
    return { line: dark ? "#8ab4f8" : "#1d4e89", mark: dark ? "#ff8a80" : "#aa0000",
      place: dark ? "#e8e8e8" : "#1b1b1b" };
  }

  function restyle() {
    var c = colours();
    if (areaLayer) areaLayer.setStyle({ color: c.line });
    if (marker) marker.setStyle({ color: c.mark });
    placeLayer.eachLayer(function (l) { if (l.setStyle) l.setStyle({ color: c.place }); });
  }

  function zoomClass() {
    map.getContainer().classList.toggle("utzoomad", map.getZoom() < 14);
  }

  function label(lat, lon, text, kind) {
    var span = document.createElement("span");
    span.textContent = text; // names are data: never markup
    return L.marker([lat, lon], { interactive: false, keyboard: false,
      icon: L.divIcon({ className: "karta-namn " + kind, html: span, iconSize: null }) });
  }

  function drawAreas(data, fit) {
    areas = data;
    if (areaLayer) areaLayer.remove();
    areaLayer = L.geoJSON(data, {
      interactive: false, // taps go to the map, not the polygons
      style: function (f) {
        var whole = f.properties && f.properties.kind === "kommun";
        return { color: colours().line, weight: whole ? 3 : 1.5, fill: !whole, fillOpacity: 0.05,
          className: whole ? "kommungrans" : "omrade-yta" };
      },
    }).addTo(map);
    var inner = (data.features || []).filter(function (f) {
      return !f.properties || f.properties.kind !== "kommun";
    });
    if (fit && inner.length && !place) {
      map.fitBounds(L.geoJSON({ type: "FeatureCollection", features: inner }).getBounds(),
        { padding: [8, 8], animate: false }); // (a running zoom animation would swallow a
      // place set right after it, from the guards' link)
    }
    if (place) refreshWords();
  }

  function drawPlaces() {
    if (!map) return;
    nameLayer.clearLayers();
    placeLayer.clearLayers();
    places.forEach(function (p) {
      if (p.kind === "område") nameLayer.addLayer(label(p.lat, p.lon, p.name, "omrade"));
      if (p.kind === "plats") {
        placeLayer.addLayer(L.circleMarker([p.lat, p.lon], { radius: 4, weight: 2,
          color: colours().place, fillOpacity: 1, interactive: false }));
        placeLayer.addLayer(label(p.lat, p.lon, p.name, "plats"));
      }
    });
  }

  // --- where a point is, in words: "Skäggetorp, 80 m från Skäggetorps centrum" -----------

  function inRing(lon, lat, ring) {
    var inside = false;
    for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      var xi = ring[i][0], yi = ring[i][1], xj = ring[j][0], yj = ring[j][1];
      if ((yi > lat) !== (yj > lat) && lon < (xj - xi) * (lat - yi) / (yj - yi) + xi) {
        inside = !inside;
      }
    }
    return inside;
  }

  function inGeometry(lon, lat, g) {
    if (!g) return false;
    var polygons = g.type === "Polygon" ? [g.coordinates] :
      g.type === "MultiPolygon" ? g.coordinates : [];
    return polygons.some(function (rings) {
      return inRing(lon, lat, rings[0]) && !rings.slice(1).some(function (hole) {
        return inRing(lon, lat, hole);
      });
    });
  }

  function metres(lat1, lon1, lat2, lon2) {
    var r = Math.PI / 180, dLat = (lat2 - lat1) * r, dLon = (lon2 - lon1) * r;
    var a = Math.sin(dLat / 2) * Math.sin(dLat / 2) + Math.cos(lat1 * r) * Math.cos(lat2 * r) *
      Math.sin(dLon / 2) * Math.sin(dLon / 2);
    return 6371008.8 * 2 * Math.atan2(Math.sqrt(a), Math.sqrt(1 - a));
  }

  function distanceText(m) {
    if (m < 1000) return Math.max(10, Math.round(m / 10) * 10) + " m";
    return (Math.round(m / 100) / 10).toLocaleString("sv-SE") + " km";
  }

  function wholeKommun() {
    return ((areas && areas.features) || []).filter(function (f) {
      return f.properties && f.properties.kind === "kommun";
    });
  }

  function kommunName() {
    var whole = wholeKommun()[0];
    if (whole && whole.properties.name) return whole.properties.name;
    var name = (me && me.kommun_name) || "";
    return name ? name + (/s$/.test(name) ? "" : "s") + " kommun" : "kommunen";
  }

  function outsideMessage() {
    return "Platsen ligger utanför " + kommunName() + ". Välj en plats i kommunen.";
  }

  // {area, outside, words} for a point; "outside" is known once the areas are loaded.
  function describe(lat, lon) {
    var whole = wholeKommun(), area = null;
    ((areas && areas.features) || []).forEach(function (f) {
      var kind = f.properties && f.properties.kind;
      if (!area && kind !== "kommun" && inGeometry(lon, lat, f.geometry)) area = f.properties.name;
    });
    var outside = !area && whole.length > 0 && !whole.some(function (f) {
      return inGeometry(lon, lat, f.geometry);
    });
    var nearest = null;
    places.forEach(function (p) {
      if (p.kind !== "plats") return;
      var d = metres(lat, lon, p.lat, p.lon);
      if (d <= 2000 && (!nearest || d < nearest.d)) nearest = { d: d, name: p.name };
    });
    var where = area || (whole.length && !outside ? kommunName() : "");
    var near = nearest ? (nearest.d < 15 ? "vid " + nearest.name :
      distanceText(nearest.d) + " från " + nearest.name) : "";
    var words = [where, near].filter(Boolean).join(", ");
    return { area: area, outside: outside, words: words || "en punkt på kartan" };
  }

  // named: a place chosen by its name (an area, a part, a known place) is not the exact
  // spot, so the report says "centroid" and is counted, not drawn, at that point
  function setPlace(lat, lon, name, named) {
    if (sending) return;
    place = { lat: Number(lat.toFixed(6)), lon: Number(lon.toFixed(6)), name: name || "",
      precision: named ? "centroid" : "exact", named: Boolean(named) };
    if (marker) marker.setLatLng([lat, lon]);
    else {
      marker = L.circleMarker([lat, lon], { radius: 9, color: colours().mark, weight: 3,
        interactive: false }).addTo(map);
    }
    refreshWords();
  }

  // "Vald plats: Skäggetorp, 80 m från Skäggetorps centrum" (a point), "Vald plats:
  // Resecentrum, Innerstaden" (a name), "Vald plats (din position): …"
  function refreshWords() {
    var about = describe(place.lat, place.lon);
    place.outside = about.outside;
    var text = about.words;
    if (place.named) {
      text = place.name + (about.area && fold(place.name).indexOf(fold(about.area)) !== 0 ?
        ", " + about.area : "");
    }
    var how = place.name && !place.named ? " (" + place.name + ")" : "";
    $("plats-text").textContent = "Vald plats" + how + ": " + text;
    if (about.outside) fieldError("plats-sok", outsideMessage());
    else clearFieldError("plats-sok");
  }

  function usePosition() {
    if (!navigator.geolocation) {
      $("plats-text").textContent = "Den här enheten kan inte ange position. Sök en plats i stället.";
      return;
    }
    $("plats-text").textContent = "Hämtar position …";
    navigator.geolocation.getCurrentPosition(function (pos) {
      setPlace(pos.coords.latitude, pos.coords.longitude, "din position");
      map.setView([pos.coords.latitude, pos.coords.longitude], 16);
    }, function () {
      $("plats-text").textContent = "Positionen gick inte att hämta. Sök en plats eller tryck " +
        "på kartan i stället.";
    }, { enableHighAccuracy: true, timeout: 15000 });
  }

  // --- the place search (a combobox: type, arrow down/up, Enter; Escape closes) -------

  var PLACES = "lagesbild.platser";
  var suggestions = [], active = -1, announceTimer = null;

  function loadPlaces() {
    var cached = localStorage.getItem(PLACES);
    if (cached) {
      try {
        var saved = JSON.parse(cached);
        if (saved.kommun === me.kommun) places = saved.places;
      } catch (e) { /* fetched again below */ }
    }
    drawPlaces();
    fetch("/rapport/platser/" + encodeURIComponent(me.kommun) + ".json").then(function (r) {
      return r.ok ? r.json() : null;
    }).then(function (data) {
      if (!data) return;
      places = data.places;
      localStorage.setItem(PLACES, JSON.stringify({ kommun: me.kommun, places: places }));
      drawPlaces();
      if (place) refreshWords();
      // typed before the list came: offer the suggestions now
      if (document.activeElement === $("plats-sok") && $("plats-sok").value) onSearchInput();
    }).catch(function () { /* offline: the cached list, the map and the position remain */ });
  }

  function fold(text) {
    return text.toLocaleLowerCase("sv").replace(/\s+/g, " ").trim();
  }

  function coordinates(text) {
    var t = text.trim();
    var parts = t.split(/\s*;\s*|\s+|,\s+/).filter(Boolean);
    if (parts.length === 1 && t.indexOf(".") >= 0) parts = t.split(",");
    if (parts.length !== 2) return null;
    var lat = Number(parts[0].replace(",", ".")), lon = Number(parts[1].replace(",", "."));
    if (!isFinite(lat) || !isFinite(lon) || Math.abs(lat) > 90 || Math.abs(lon) > 180) return null;
    return { name: "Koordinater " + lat + ", " + lon, kind: "koordinater", lat: lat, lon: lon };
  }

  function match(text) {
    var q = fold(text);
    if (!q) return [];
    var point = coordinates(text);
    if (point) return [point];
    var starts = [], inside = [];
    places.forEach(function (p) {
      var names = [p.name].concat(p.aliases || []).map(fold);
      if (names.some(function (n) { return n.indexOf(q) === 0; })) starts.push(p);
      else if (names.some(function (n) { return n.indexOf(q) > 0; })) inside.push(p);
    });
    return starts.concat(inside).slice(0, 8);
  }

  function renderSuggestions() {
    var list = $("plats-forslag"), field = $("plats-sok");
    list.replaceChildren();
    suggestions.forEach(function (p, i) {
      var item = document.createElement("li");
      item.id = "plats-forslag-" + i;
      item.setAttribute("role", "option");
      item.setAttribute("aria-selected", i === active ? "true" : "false");
      item.textContent = p.name;
      var kind = document.createElement("span");
      kind.className = "slag";
      kind.textContent = p.kind;
      item.appendChild(kind);
      item.addEventListener("mousedown", function (ev) { ev.preventDefault(); choose(i); });
      list.appendChild(item);
    });
    var open = suggestions.length > 0;
    list.hidden = !open;
    field.setAttribute("aria-expanded", open ? "true" : "false");
    if (active >= 0 && open) {
      field.setAttribute("aria-activedescendant", "plats-forslag-" + active);
      var chosen = $("plats-forslag-" + active);
      if (chosen && chosen.scrollIntoView) chosen.scrollIntoView({ block: "nearest" });
    } else {
      field.removeAttribute("aria-activedescendant");
    }
  }

  function announce(text) {
    clearTimeout(announceTimer);
    announceTimer = setTimeout(function () { $("plats-antal").textContent = text; }, 400);
  }

  function onSearchInput() {
    suggestions = match($("plats-sok").value);
    active = -1;
    renderSuggestions();
    if (!$("plats-sok").value.trim()) return announce("");
    announce(suggestions.length ? suggestions.length + (suggestions.length === 1 ? " förslag" :
      " förslag") + ". Pil ned för att välja, Enter för att ta det." : "Inga förslag.");
  }

  function closeSuggestions() {
    suggestions = [];
    active = -1;
    renderSuggestions();
  }

  function choose(i) {
    var p = suggestions[i];
    if (!p) return;
    $("plats-sok").value = p.name;
    closeSuggestions();
    setPlace(p.lat, p.lon, p.name, p.kind !== "koordinater");
    if (map) map.setView([p.lat, p.lon], Math.max(map.getZoom(), 14));
  }

  function onSearchKey(ev) {
    if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
      ev.preventDefault();
      if (!suggestions.length) suggestions = match($("plats-sok").value);
      if (!suggestions.length) return;
      var step = ev.key === "ArrowDown" ? 1 : -1;
      active = (active + step + suggestions.length) % suggestions.length;
      if (active < 0) active = 0;
      renderSuggestions();
    } else if (ev.key === "Enter") {
      if (suggestions.length) {
        ev.preventDefault(); // choose, do not send the form
        choose(active >= 0 ? active : 0);
      }
    } else if (ev.key === "Escape") {
      if (suggestions.length) { ev.preventDefault(); closeSuggestions(); }
    }
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
      clearErrors();
      return { kind: "noll", path: "/api/v1/nollrapporter",
        body: { source: source, area: $("omrade").value || null } };
    }
    // Every error at once, each at its field.
    var errors = [];
    if (!chosenCategory()) errors.push({ id: "kategori", message: "Välj en kategori." });
    if (!place) {
      errors.push({ id: "plats-sok", message: "Ange plats: sök ett område eller en del av ett " +
        "område och välj bland förslagen, tryck på kartan eller använd din position." });
    } else if (place.outside) {
      errors.push({ id: "plats-sok", message: outsideMessage() });
    }
    var when = new Date($("tid").value);
    if (isNaN(when.getTime())) errors.push({ id: "tid", message: "Ange en tidpunkt." });
    else if (when.getTime() > Date.now() + 5 * 60000) {
      errors.push({ id: "tid", message: "Tidpunkten kan inte ligga i framtiden." });
    }
    if (photo && photo.error) errors.push({ id: "foto", message: photo.error });
    if (errors.length) return showErrors(errors);
    clearErrors();
    return { kind: "report", path: "/api/v1/reports", body: {
      report_id: reportId, category: chosenCategory(), source: source,
      occurred_at: isoWithOffset(when), lat: place.lat, lon: place.lon,
      location_precision: place.precision,
      description: $("beskrivning").value.trim(),
    } };
  }

  function lock(on) {
    sending = on;
    $("falt").disabled = on;
    $("skicka").disabled = on;
  }

  // The job with its photo goes into the phone's queue (localStorage) until it is sent;
  // a photo too large for the queue is sent from memory while the page stays open.
  function keep(job) {
    try {
      localStorage.setItem(PENDING, JSON.stringify(job));
      return true;
    } catch (e) {
      var bare = Object.assign({}, job, { photo: null, photoLost: Boolean(job.photo) });
      try { localStorage.setItem(PENDING, JSON.stringify(bare)); } catch (e2) { /* full */ }
      return false;
    }
  }

  async function onSubmit(ev) {
    ev.preventDefault();
    if (sending) return;
    var job = buildJob();
    if (!job) return;
    if (job.kind === "report" && photo && photo.blob) job.photo = await dataUrl(photo.blob);
    keep(job);
    await send(job);
  }

  // --- the photo: resized on the phone (at most 1600 px, JPEG 0.8) ---------------------

  var MAX_SIDE = 1600, QUALITY = 0.8;

  function dataUrl(blob) {
    return new Promise(function (resolve, reject) {
      var reader = new FileReader();
      reader.onload = function () { resolve(reader.result); };
      reader.onerror = function () { reject(reader.error); };
      reader.readAsDataURL(blob);
    });
  }

  function blobOf(url) { // a data: address back to bytes (fetch() of data: is not allowed)
    var parts = url.split(","), type = parts[0].replace(/^data:|;base64$/g, "");
    var text = atob(parts[1]), bytes = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    return new Blob([bytes], { type: type || "image/jpeg" });
  }

  async function decode(file) {
    if (window.createImageBitmap) {
      try { return await createImageBitmap(file, { imageOrientation: "from-image" }); }
      catch (e) { /* try the <img> way below */ }
    }
    return await new Promise(function (resolve, reject) {
      var img = new Image(), url = URL.createObjectURL(file);
      img.onload = function () { URL.revokeObjectURL(url); resolve(img); };
      img.onerror = function () { URL.revokeObjectURL(url); reject(new Error("decode")); };
      img.src = url;
    });
  }

  async function resize(file) {
    var image = await decode(file);
    var w = image.width, h = image.height, scale = Math.min(1, MAX_SIDE / Math.max(w, h));
    var canvas = document.createElement("canvas");
    canvas.width = Math.max(1, Math.round(w * scale));
    canvas.height = Math.max(1, Math.round(h * scale));
    var ctx = canvas.getContext("2d");
    ctx.fillStyle = "#fff"; // a transparent PNG gets a white background, as on the server
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(image, 0, 0, canvas.width, canvas.height);
    if (image.close) image.close();
    return await new Promise(function (resolve, reject) {
      canvas.toBlob(function (b) { if (b) resolve(b); else reject(new Error("encode")); },
        "image/jpeg", QUALITY);
    });
  }

  function clearPhoto() {
    if (photo && photo.url) URL.revokeObjectURL(photo.url);
    photo = null;
    $("foto").value = "";
    $("foto-bild").removeAttribute("src");
    $("foto-ruta").hidden = true;
    clearFieldError("foto");
  }

  async function onPhoto() {
    var file = $("foto").files[0];
    if (photo && photo.url) URL.revokeObjectURL(photo.url);
    photo = null;
    $("foto-ruta").hidden = true;
    clearFieldError("foto");
    if (!file) return;
    if (!/^image\/(jpeg|png|webp)$/.test(file.type)) {
      photo = { error: "Filen är ingen bild som kan skickas. Välj ett foto (JPEG, PNG eller WebP)." };
      return fieldError("foto", photo.error);
    }
    try {
      var blob = await resize(file);
      photo = { blob: blob, url: URL.createObjectURL(blob) };
      $("foto-bild").src = photo.url;
      $("foto-ruta").hidden = false;
    } catch (e) {
      photo = { error: "Fotot gick inte att läsa. Välj ett annat foto." };
      fieldError("foto", photo.error);
    }
  }

  // --- sending, retrying, the receipt ---------------------------------------------

  // One request with retries: a network error, a 5xx or a 429 waits and tries again (the
  // same report_id, so the server never makes two). Null when it never got through.
  async function attempt(call, what) {
    for (var n = 0; ; n++) {
      var r = null;
      try { r = await call(); } catch (e) { r = null; }
      if (r && r.status < 500 && r.status !== 429) return r;
      if (n >= 4) return null;
      var after = r && Number(r.headers.get("Retry-After"));
      var wait = after ? after * 1000 : Math.min(30000, 1000 * Math.pow(2, n));
      show("Ingen kontakt med servern – försöker skicka " + what + " igen om " +
        Math.round(wait / 1000) + " s …");
      await sleep(wait);
    }
  }

  function putPhoto(job) {
    var blob = blobOf(job.photo);
    return fetch("/api/v1/reports/" + encodeURIComponent(job.body.report_id) + "/photo", {
      method: "PUT",
      headers: { "Authorization": "Bearer " + token, "Content-Type": blob.type },
      body: blob,
    });
  }

  async function send(job) {
    // Focus to the receipt before the fieldset is disabled, so it never drops to the page.
    if (document.activeElement && $("rapport").contains(document.activeElement)) $("kvitto").focus();
    lock(true);
    $("skicka-igen").hidden = true;
    show("Skickar …");
    if (!job.sent) {
      var r = await attempt(function () { return api("POST", job.path, job.body); }, "rapporten");
      if (!r) return waitForNetwork("Kunde inte skicka. Rapporten finns kvar i telefonen; " +
        "tryck på Skicka igen när du har täckning.");
      var ok = await settle(job, r);
      if (!ok || !job.photo) return;
    }
    var p = await attempt(function () { return putPhoto(job); }, "fotot");
    if (!p) return waitForNetwork("Rapporten är mottagen. Fotot finns kvar i telefonen och " +
      "skickas när du trycker på Skicka igen.");
    await settlePhoto(job, p);
  }

  function waitForNetwork(message) {
    show(message, "fel");
    $("skicka-igen").hidden = false;
    sending = false;
  }

  // The report's answer; true when it was received (and a photo may follow).
  async function settle(job, r) {
    var data = {};
    try { data = await r.json(); } catch (e) { /* keep the status alone */ }
    if (r.status === 401) {
      lock(false);
      localStorage.removeItem(KEY);
      askToken("Nyckeln gäller inte längre. Ange en ny; rapporten skickas sedan.");
      return false;
    }
    if (!r.ok) {
      localStorage.removeItem(PENDING);
      lock(false);
      // Nothing was published: the same report_id may be used again once fixed.
      var items = (data.errors || []).map(function (e) {
        return { id: FIELD_IDS[e.field] || null, message: plainMessage(e) };
      });
      show("Rapporten skickades inte.", "fel");
      if (!items.length) items = [{ id: null, message: "Servern svarade " + r.status + "." }];
      showErrors(items);
      return false;
    }
    if (job.kind === "noll") {
      localStorage.removeItem(PENDING);
      lock(false);
      $("nollrapport").checked = false;
      toggleNoll();
      show(data.message_sv, "ok");
      return false;
    }
    var receipt = data.receipts[0];
    var lost = job.photoLost ? " Fotot fick inte plats i telefonens kö och skickades inte." : "";
    show("Tack! Rapporten är mottagen.", "ok", "Rapport-id: " + receipt.report_id + ". I kö …" +
      lost);
    $("kvitto").focus();
    job.sent = true;
    job.receipt = receipt;
    if (job.photo) {
      keep(job); // the report is in; only its photo is left in the queue
      show("Tack! Rapporten är mottagen. Skickar fotot …", "ok",
        "Rapport-id: " + receipt.report_id + ".");
    } else {
      localStorage.removeItem(PENDING);
      lock(false);
      resetForm();
      followStatus(receipt);
    }
    return true;
  }

  async function settlePhoto(job, r) {
    var data = {};
    try { data = await r.json(); } catch (e) { /* keep the status alone */ }
    if (r.status === 401) {
      lock(false);
      localStorage.removeItem(KEY);
      askToken("Nyckeln gäller inte längre. Ange en ny; fotot skickas sedan.");
      return;
    }
    localStorage.removeItem(PENDING);
    lock(false);
    resetForm();
    if (r.ok) {
      show("Tack! Rapporten och fotot är mottagna.", "ok",
        "Rapport-id: " + job.receipt.report_id + ". I kö …");
    } else {
      var why = (data.errors || []).map(function (e) { return e.message_sv; }).join(" ");
      show("Rapporten är mottagen, men fotot kunde inte sparas.", "fel", why);
    }
    $("kvitto").focus();
    followStatus(job.receipt);
  }

  function resetForm() {
    reportId = newId(); // a new form fill is a new report
    var chosen = document.querySelector('input[name="kategori"]:checked');
    if (chosen) chosen.checked = false;
    $("beskrivning").value = "";
    $("tid").value = localInput(new Date());
    place = null;
    if (marker) { marker.remove(); marker = null; }
    $("plats-sok").value = "";
    $("plats-text").textContent = "Ingen plats vald.";
    clearPhoto();
  }

  async function followStatus(receipt) {
    for (var i = 0; i < 40; i++) {
      await sleep(i < 10 ? 1500 : 5000);
      try {
        var r = await api("GET", receipt.status_url);
        if (!r.ok) continue;
        var s = await r.json();
        if (s.status === "stored") {
          return show($("kvitto-text").textContent, "ok", "Rapporten är sparad i lägesbilden.");
        }
        if (s.status === "rejected") {
          return show("Rapporten avvisades.", "fel", s.reason ? plainMessage(s.reason) : "");
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
  $("foto").addEventListener("change", onPhoto);
  $("foto-bort").addEventListener("click", function () { clearPhoto(); $("foto").focus(); });
  $("kategori-knappar").addEventListener("change", function () { clearFieldError("kategori"); });
  $("plats-sok").addEventListener("input", onSearchInput);
  $("plats-sok").addEventListener("keydown", onSearchKey);
  $("plats-sok").addEventListener("blur", function () {
    // (after a click on a suggestion has been handled; not when focus came straight back)
    setTimeout(function () {
      if (document.activeElement !== $("plats-sok")) closeSuggestions();
    }, 150);
  });
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
  window.addEventListener("hashchange", function () {
    // "rapportera härifrån" again while the form is open: the new place, same page
    readFragment();
    if (me) applyPrefill();
  });
  window.addEventListener("online", resumePending);
  start();
})();
