var lagesbild = (function () {
  var SOURCES = {{ sources | tojson }};
  function esc(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }
  function popup(label, row) {
    var html = '<div class="lb-popup"><div class="lb-cat">' + esc(label) + '</div>' +
      '<div class="lb-meta">' + esc(row[2]) + ' · ' + esc(SOURCES[row[3]] || "") + '</div>';
    if (row[4]) { html += '<div class="lb-desc">' + esc(row[4]) + '</div>'; }
    return html + '</div>';
  }
  function markerFactory(colour) {
    var icon = L.divIcon({className: "lb-pt", html: '<span style="background:' + colour + '"></span>',
                          iconSize: [16, 16]});
    return function (row) {
      var marker = L.marker([row[0], row[1]], {icon: icon, keyboard: false});
      marker.lbRow = row;
      return marker;
    };
  }
  // One click handler per cluster group instead of a bound popup per marker.
  function popupOnClick(label) {
    return function (event) {
      var marker = event.layer;
      if (!marker || !marker.lbRow) { return; }
      L.popup({offset: [0, -2]}).setLatLng(marker.getLatLng())
        .setContent(popup(label, marker.lbRow)).openOn(this._map);
    };
  }
  function clusterIcon(colour) {
    return function (cluster) {
      var n = cluster.getChildCount();
      var size = n < 10 ? 32 : n < 100 ? 38 : 46;
      return L.divIcon({
        html: '<div style="background:' + colour + '"><span>' + n + '</span></div>',
        className: "marker-cluster lb-cluster", iconSize: L.point(size, size)});
    };
  }
  return {esc: esc, popup: popup, markerFactory: markerFactory, popupOnClick: popupOnClick,
          clusterIcon: clusterIcon};
})();
