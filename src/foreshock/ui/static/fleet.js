// The fleet map: one plotly heatmap of health levels (0 ok .. 3 critical), one cell per
// rack, node or GPU. The grid comes first; the cell → entity ids follow, for hover and click.
(function () {
  "use strict";
  var LEVELS = ["ok", "warning", "degraded", "critical"];
  var el = document.getElementById("fleet-map");
  var hover = document.getElementById("fleet-hover");
  var grid = null;
  var ids = null;

  function colours() {
    var f = window.foreshock.css;
    var c = [f("--ok"), f("--warning"), f("--degraded"), f("--critical")];
    return [[0, c[0]], [0.25, c[0]], [0.25, c[1]], [0.5, c[1]], [0.5, c[2]], [0.75, c[2]], [0.75, c[3]], [1, c[3]]];
  }

  function layout() {
    var f = window.foreshock.css;
    var annotations = grid.halls.map(function (h) {
      return { x: h.col, y: h.row - 0.5, xanchor: "left", yanchor: "bottom", text: h.id,
               showarrow: false, font: { size: 10, color: f("--muted") } };
    });
    // Large fleets: square cells. Small ones: cells stretched so the map is not a sliver.
    var square = grid.width >= 100;
    var yaxis = { visible: false, autorange: "reversed" };
    if (square) yaxis.scaleanchor = "x";
    return {
      margin: { l: 10, r: 10, t: 24, b: 10 },
      height: square ? Math.max(420, Math.min(900, grid.height * 3 + 60))
                     : Math.max(300, Math.min(600, grid.height * 12 + 60)),
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      font: { color: f("--fg") },
      xaxis: { visible: false, constrain: "domain" },
      yaxis: yaxis,
      annotations: annotations,
    };
  }

  function rows() {
    var z = new Array(grid.height);
    for (var r = 0; r < grid.height; r++) z[r] = grid.z.slice(r * grid.width, (r + 1) * grid.width);
    return z;
  }

  function draw() {
    var trace = { type: "heatmap", z: rows(), zmin: 0, zmax: 3, colorscale: colours(),
                  showscale: false, hoverinfo: "none", xgap: 0, ygap: 0 };
    var config = { displaylogo: false, responsive: true, scrollZoom: true };
    return Plotly.react(el, [trace], layout(), config).then(function () {
      el.dataset.state = "rendered";
      el.dataset.cells = String(grid.z.length);
      window.foreshockFleetRendered = performance.now();
    });
  }

  function idAt(point) {
    if (!ids) return null;
    return ids[point.y * grid.width + point.x] || null;
  }

  window.foreshock.getJSON("/api/v1/fleet/map").then(function (data) {
    grid = data;
    return draw();
  }).then(function () {
    el.on("plotly_hover", function (ev) {
      var p = ev.points[0];
      var id = idAt(p);
      if (id) hover.textContent = id + " — " + LEVELS[p.z];
    });
    el.on("plotly_click", function (ev) {
      var id = idAt(ev.points[0]);
      if (id) window.location.href = window.foreshock.entityUrl(id);
    });
    return window.foreshock.getJSON("/api/v1/fleet/map/ids").then(function (list) { ids = list; });
  }).catch(function (err) {
    el.dataset.state = "error";
    el.textContent = "Could not load the fleet map: " + err.message;
  });

  document.addEventListener("foreshock:theme", function () { if (grid) draw(); });
})();
