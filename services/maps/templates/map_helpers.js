var lagesbild = (function () {
  "use strict";
  // Report text reaches the page only through esc() or textContent, never as markup.
  var SOURCES = {{ sources }};
  var NARROW = "(max-width: 600px)";
  var categories = {}; // code -> {cluster, style, rows, markers}
  var hotspots = null, hotspotNames = []; // the hotspot GeoJSON layer and names
  var map = null, opener = null, areaNames = null;

  function esc(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }
  function areaName(i) {
    if (areaNames === null) {
      var data = document.getElementById("lb-omraden");
      areaNames = data ? JSON.parse(data.textContent || "[]") : [];
    }
    return i >= 0 && i < areaNames.length ? areaNames[i] : "";
  }
  function popup(label, row) {
    var area = areaName(row[5]);
    var html = '<div class="lb-popup"><div class="lb-cat">' + esc(label) + '</div>' +
      '<div class="lb-meta">' + esc(row[2]) + ' · ' + esc(SOURCES[row[3]] || "") +
      (area ? ' · ' + esc(area) : '') + '</div>';
    if (row[4]) { html += '<div class="lb-desc">' + esc(row[4]) + '</div>'; }
    // The report's photo (restricted map only; served behind the same login).
    if (row[6]) {
      html += '<a class="lb-foto" href="' + esc(row[6]) + '" target="_blank" rel="noopener">' +
        '<img src="' + esc(row[6]) + '" alt="Foto från rapporten" width="240"></a>';
    }
    return html + '</div>';
  }
  function openFor(marker, style) {
    L.popup({offset: [0, -4]}).setLatLng(marker.getLatLng())
      .setContent(popup(style.label, marker.lbRow)).openOn(map);
  }
  // A marker is a button named by its text (the symbol is decoration); Enter opens it.
  function markerFor(style) {
    return function (row) {
      var icon = L.divIcon({
        className: "lb-pt", iconSize: [22, 22],
        html: '<span class="lb-pt-dot" aria-hidden="true" style="background:' + style.colour +
          '">' + esc(style.symbol) + '</span><span class="lb-sr">' + esc(style.label) + ', ' +
          esc(row[2]) + '</span>'});
      var marker = L.marker([row[0], row[1]], {icon: icon, keyboard: true, riseOnHover: true});
      marker.lbRow = row;
      return marker;
    };
  }
  function clusterIcon(style) {
    return function (cluster) {
      var n = cluster.getChildCount();
      var size = n < 10 ? 36 : n < 100 ? 42 : 50;
      return L.divIcon({
        html: '<div style="background:' + style.colour + '"><span aria-hidden="true">' +
          '<b>' + esc(style.symbol) + '</b> ' + n + '</span><span class="lb-sr">' +
          esc(style.label) + ': ' + n + ' händelser, tryck Enter för att zooma in</span></div>',
        className: "marker-cluster lb-cluster", iconSize: L.point(size, size)});
    };
  }
  function addCategory(cluster, style, rows) {
    var markers = rows.map(markerFor(style));
    categories[style.code] = {cluster: cluster, style: style, rows: rows, markers: markers};
    cluster.options.iconCreateFunction = clusterIcon(style);
    cluster.on("click", function (event) {
      if (event.layer && event.layer.lbRow) { openFor(event.layer, style); }
    });
    cluster.on("keypress", function (event) {
      var key = event.originalEvent && (event.originalEvent.key || event.originalEvent.keyCode);
      if (key !== "Enter" && key !== 13) { return; }
      if (event.layer && event.layer.lbRow) { openFor(event.layer, style); }
      else if (event.layer && event.layer.zoomToBounds) {
        event.layer.zoomToBounds({padding: [24, 24]});
        map.getContainer().focus();
      }
    });
    cluster.addLayers(markers);
  }
  function registerHotspots(layer, names) { hotspots = layer; hotspotNames = names || []; }

  // --- the legend follows the layers that are on ----------------------------------
  var legends = []; // [{map, layer, key}]: blocks marked data-lb-layer="key"
  function syncLegends() {
    legends.forEach(function (entry) {
      var on = entry.map.hasLayer(entry.layer);
      document.querySelectorAll("[data-lb-layer]").forEach(function (el) {
        if (el.getAttribute("data-lb-layer") === entry.key) { el.style.display = on ? "" : "none"; }
      });
    });
  }
  function legendFor(theMap, layer, key) {
    if (!legends.length) {
      theMap.on("overlayadd overlayremove", syncLegends);
      theMap.whenReady(function () { setTimeout(syncLegends, 0); });
    }
    legends.push({map: theMap, layer: layer, key: key});
  }

  // --- area labels: where two overlap at this zoom, the higher-ranked one shows --------
  function declutterLabels() {
    var labels = Array.prototype.slice.call(document.querySelectorAll(".lb-area-label > div"));
    labels.sort(function (a, b) {
      return Number(a.getAttribute("data-rank")) - Number(b.getAttribute("data-rank"));
    });
    var placed = [];
    labels.forEach(function (el) {
      el.style.visibility = "";
      var r = el.getBoundingClientRect();
      if (!r.width) { return; }
      var hit = placed.some(function (p) {
        return r.left < p.right && r.right > p.left && r.top < p.bottom && r.bottom > p.top;
      });
      if (hit) { el.style.visibility = "hidden"; } else { placed.push(r); }
    });
  }

  // --- the layer list: open on a wide screen, a button below minWidth px -----------
  function layerControl(theMap, control, minWidth) {
    var wide = window.matchMedia("(min-width: " + minWidth + "px)");
    var link = control._layersLink, box = control.getContainer();
    link.setAttribute("aria-haspopup", "true");
    function apply() {
      if (wide.matches) { control.expand(); } else { control.collapse(); }
      link.setAttribute("aria-expanded", wide.matches ? "true" : "false");
    }
    function fold() {
      if (wide.matches) { return; }
      control.collapse();
      link.setAttribute("aria-expanded", "false");
    }
    link.addEventListener("click", function () { link.setAttribute("aria-expanded", "true"); });
    link.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" || ev.key === " ") {
        ev.preventDefault();
        control.expand();
        link.setAttribute("aria-expanded", "true");
        var first = box.querySelector("input");
        if (first) { first.focus(); }
      }
    });
    // Escape or leaving the list by keyboard folds it again (narrow screens only).
    box.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape" && !wide.matches) {
        ev.preventDefault();
        fold();
        link.focus();
      }
    });
    box.addEventListener("focusout", function (ev) {
      if (ev.relatedTarget && !box.contains(ev.relatedTarget)) { fold(); }
    });
    theMap.on("click", fold);
    if (wide.addEventListener) { wide.addEventListener("change", apply); }
    else if (wide.addListener) { wide.addListener(apply); }
    apply();
  }

  // Shapes: a hotspot is a named button (Enter opens its popup); every other shape is
  // left out of the tab order (its numbers are in the tables under the map).
  function tameShapes() {
    var named = [];
    if (hotspots) {
      hotspots.getLayers().forEach(function (layer, i) {
        var el = layer.getElement && layer.getElement();
        if (!el) { return; }
        named.push(el);
        el.setAttribute("tabindex", "0");
        el.setAttribute("role", "button");
        el.setAttribute("aria-label", "Hotspot " + (hotspotNames[i] || "") +
          ": tryck Enter för detaljer");
      });
    }
    document.querySelectorAll("path.leaflet-interactive").forEach(function (el) {
      if (named.indexOf(el) < 0) { el.setAttribute("tabindex", "-1"); }
    });
  }

  // --- popups: focus goes in, Escape closes, focus comes back ---------------------
  function onPopupOpen(event) {
    var el = event.popup.getElement();
    if (!el) { return; }
    var active = document.activeElement;
    if (active && active !== document.body && !el.contains(active) && !opener) { opener = active; }
    var head = el.querySelector(".lb-cat");
    el.setAttribute("role", "dialog");
    el.setAttribute("aria-label", head ? head.textContent : "Detaljer");
    var close = el.querySelector(".leaflet-popup-close-button");
    if (close) {
      close.setAttribute("aria-label", "Stäng");
      close.setAttribute("title", "Stäng (Esc)");
    }
    if (!el.lbKeys) {
      el.lbKeys = true;
      el.addEventListener("keydown", function (ev) {
        if (ev.key === "Escape") { ev.preventDefault(); ev.stopPropagation(); map.closePopup(); }
      });
    }
    var content = el.querySelector(".leaflet-popup-content");
    if (content) { content.tabIndex = -1; content.focus({preventScroll: true}); }
    map.getContainer().classList.add("lb-popup-open");
  }
  function onPopupClose(event) {
    var el = event.popup.getElement();
    var active = document.activeElement;
    var back = opener;
    opener = null;
    map.getContainer().classList.remove("lb-popup-open");
    if (active && active !== document.body && !(el && el.contains(active))) { return; }
    if (back && document.body.contains(back)) { back.focus(); }
    else { map.getContainer().focus(); }
  }

  // --- the tables under the map -----------------------------------------------------
  function cell(tr, text, kind) {
    var td = document.createElement("td");
    td.textContent = text;
    if (kind) { td.className = kind; }
    tr.appendChild(td);
  }
  function fillIncidentTable(details) {
    if (details.getAttribute("data-built")) { return; }
    details.setAttribute("data-built", "1");
    var entry = categories[details.getAttribute("data-category")];
    var body = details.querySelector("tbody");
    if (!entry || !body) { return; }
    entry.rows.forEach(function (row, i) {
      var tr = document.createElement("tr");
      cell(tr, row[2]);
      cell(tr, areaName(row[5]));
      cell(tr, SOURCES[row[3]] || "");
      cell(tr, row[4] || "–", "text");
      var td = document.createElement("td");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "lb-show";
      button.textContent = "Visa på kartan";
      button.setAttribute("aria-label", "Visa på kartan: " + entry.style.label + ", " + row[2]);
      button.setAttribute("data-category", entry.style.code);
      button.setAttribute("data-row", String(i));
      td.appendChild(button);
      tr.appendChild(td);
      body.appendChild(tr);
    });
  }
  function showIncident(button) {
    var entry = categories[button.getAttribute("data-category")];
    var marker = entry && entry.markers[Number(button.getAttribute("data-row"))];
    if (!marker) { return; }
    opener = button;
    map.getContainer().scrollIntoView({block: "start"});
    entry.cluster.zoomToShowLayer(marker, function () { openFor(marker, entry.style); });
  }
  function showHotspot(button) {
    var layer = hotspots && hotspots.getLayers()[Number(button.getAttribute("data-hotspot"))];
    if (!layer) { return; }
    opener = button;
    map.getContainer().scrollIntoView({block: "start"});
    map.fitBounds(layer.getBounds(), {animate: false, maxZoom: 16});
    layer.fire("click", {latlng: layer.getBounds().getCenter()}, true);
  }
  function wireTables() {
    var tables = document.getElementById("lb-tabeller");
    if (!tables) { return; }
    tables.querySelectorAll("details.lb-list").forEach(function (details) {
      details.addEventListener("toggle", function () {
        if (details.open) { fillIncidentTable(details); }
      });
      if (details.open) { fillIncidentTable(details); }
    });
    tables.addEventListener("click", function (event) {
      var button = event.target.closest && event.target.closest("button");
      if (!button) { return; }
      if (button.hasAttribute("data-row")) { showIncident(button); }
      else if (button.hasAttribute("data-hotspot")) { showHotspot(button); }
    });
  }

  // --- Leaflet in Swedish, controls before markers -----------------------------------
  function name(selector, text) {
    document.querySelectorAll(selector).forEach(function (el) {
      el.setAttribute("title", text);
      el.setAttribute("aria-label", text);
    });
  }
  function setup(theMap) {
    map = theMap;
    var box = map.getContainer();
    box.setAttribute("role", "region");
    box.setAttribute("aria-label",
      "Karta. Piltangenterna flyttar kartan, plus och minus zoomar. " +
      "Samma uppgifter finns i tabellerna under kartan.");
    if (map._controlContainer) { box.insertBefore(map._controlContainer, box.firstChild); }
    name(".leaflet-control-zoom-in", "Zooma in");
    name(".leaflet-control-zoom-out", "Zooma ut");
    name(".leaflet-control-layers-toggle", "Kartlager");
    document.querySelectorAll(".leaflet-control-layers-list").forEach(function (el) {
      el.setAttribute("aria-label", "Kartlager");
    });
    if (map.attributionControl) {
      map.attributionControl.setPrefix('<a href="https://leafletjs.com" ' +
        'title="Leaflet, ett JavaScript-bibliotek för interaktiva kartor">Leaflet</a>');
    }
    if (window.matchMedia && window.matchMedia(NARROW).matches) {
      document.querySelectorAll("details.lb-fold").forEach(function (d) { d.open = false; });
    }
    tameShapes();
    map.on("layeradd", function () { setTimeout(tameShapes, 0); });
    map.on("zoomend overlayadd resize", function () { setTimeout(declutterLabels, 0); });
    setTimeout(declutterLabels, 0);
    map.on("popupopen", onPopupOpen);
    map.on("popupclose", onPopupClose);
    wireTables();
  }
  return {esc: esc, popup: popup, addCategory: addCategory, registerHotspots: registerHotspots,
          legendFor: legendFor, layerControl: layerControl, declutterLabels: declutterLabels,
          setup: setup};
})();
