// An entity's series from the hot window, one line per series, drawn with plotly.
(function () {
  "use strict";
  var el = document.getElementById("series");
  var entity = el.dataset.entity;
  var data = null;

  function draw() {
    var f = window.foreshock.css;
    var traces = data.series.map(function (s) {
      var extra = s.labels && Object.keys(s.labels).length ? " " + JSON.stringify(s.labels) : "";
      return { type: "scatter", mode: "lines+markers", name: s.metric + extra,
               x: s.t.map(function (t) { return new Date(t * 1000); }), y: s.v };
    });
    var layout = { margin: { l: 50, r: 10, t: 10, b: 40 }, height: 360,
                   paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
                   font: { color: f("--fg") }, legend: { orientation: "h" },
                   xaxis: { gridcolor: f("--line") }, yaxis: { gridcolor: f("--line") } };
    return Plotly.react(el, traces, layout, { displaylogo: false, responsive: true });
  }

  window.foreshock.getJSON("/api/v1/series?entity=" + encodeURIComponent(entity)).then(function (d) {
    data = d;
    if (d.source === "none" || !d.series.length) {
      el.innerHTML = "";
      var p = document.createElement("p");
      p.className = "muted";
      p.textContent = d.source === "none" ? "No hot window in this service: no series." : "No series for this entity in the hot window.";
      el.appendChild(p);
      el.dataset.state = "empty";
      return null;
    }
    el.innerHTML = "";
    return draw().then(function () { el.dataset.state = "rendered"; });
  }).catch(function (err) {
    el.dataset.state = "error";
    el.textContent = "Could not load the series: " + err.message;
  });

  document.addEventListener("foreshock:theme", function () { if (data && data.series.length) draw(); });
})();
