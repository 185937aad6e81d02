// The live view: listens to /api/v1/stream (server-sent events) and refreshes its counts and
// its incident list on each change; `resync` (this client fell behind) reloads them too.
(function () {
  "use strict";
  var state = document.getElementById("stream-state");
  var feed = document.getElementById("live-events");
  var body = document.getElementById("live-incidents");
  var MAX_FEED = 200;
  var pending = null;

  function cell(row, text, href) {
    var td = document.createElement("td");
    if (href) {
      var a = document.createElement("a");
      a.href = href;
      a.textContent = text;
      td.appendChild(a);
    } else {
      td.textContent = text;
    }
    row.appendChild(td);
  }

  function refresh() {
    var get = window.foreshock.getJSON;
    return Promise.all([get("/api/v1/incidents?limit=15"), get("/api/v1/topology"),
                        get("/api/v1/incidents?status=open&limit=1"),
                        get("/api/v1/incidents?status=acknowledged&limit=1"),
                        get("/api/v1/incidents?status=resolved&limit=1")])
      .then(function (r) {
        body.innerHTML = "";
        r[0].items.forEach(function (i) {
          var tr = document.createElement("tr");
          tr.className = "live-incident";
          cell(tr, "#" + i.id, "/ui/incidents/" + i.id);
          cell(tr, i.status);
          cell(tr, i.title || "(untitled)", "/ui/incidents/" + i.id);
          cell(tr, i.root_entity || "", i.root_entity ? window.foreshock.entityUrl(i.root_entity) : null);
          body.appendChild(tr);
        });
        if (!r[0].items.length) body.innerHTML = '<tr><td colspan="4" class="muted">No incidents.</td></tr>';
        ["warning", "degraded", "critical"].forEach(function (level) {
          document.getElementById("health-" + level).textContent = r[1].health[level];
        });
        document.getElementById("count-open").textContent = r[2].total;
        document.getElementById("count-acknowledged").textContent = r[3].total;
        document.getElementById("count-resolved").textContent = r[4].total;
        document.body.dataset.refreshed = String(Date.now());
      })
      .catch(function (err) { state.textContent = "refresh failed: " + err.message; });
  }

  function later() {  // a burst of changes triggers one refresh
    if (pending) return;
    pending = setTimeout(function () { pending = null; refresh(); }, 250);
  }

  function show(kind, payload) {
    var li = document.createElement("li");
    li.className = "live-event";
    li.dataset.kind = kind;
    var time = document.createElement("time");
    time.textContent = new Date(payload.at * 1000).toISOString().slice(11, 19);
    var strong = document.createElement("strong");
    strong.textContent = " " + kind + " ";
    li.appendChild(time);
    li.appendChild(strong);
    li.appendChild(document.createTextNode(JSON.stringify(payload.data)));
    feed.insertBefore(li, feed.firstChild);
    while (feed.children.length > MAX_FEED) feed.removeChild(feed.lastChild);
  }

  var source = new EventSource("/api/v1/stream");
  source.onopen = function () { state.textContent = "live"; state.dataset.state = "live"; };
  source.onerror = function () { state.textContent = "reconnecting"; state.dataset.state = "reconnecting"; };
  source.onmessage = function (ev) {
    var change = JSON.parse(ev.data);
    show(change.kind, change);
    later();
  };
  refresh();
})();
