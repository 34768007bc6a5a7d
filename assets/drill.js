/* Drill-down pages: maps drawn from the page's data (click an area, case or worker to go one
 * level down), table rows that open their page, CSV export of what a table shows, the worker's
 * track replay (play, pause, speed; no server polling) and the grid boundary editor.
 * On the wall, a click on a worker or on the map drills down (not on a kiosk). Text from data
 * is only ever set as text. */
(function () {
  "use strict";
  var gw = (window.gw = window.gw || {});
  var D = (gw.drill = { maps: {} });
  var URGENCY = { urgent: "#ef4444", normal: "#f59e0b", routine: "#38bdf8" };
  var STATUS = { patrolling: "#22c55e", idle: "#38bdf8", outside: "#f59e0b", offline: "#64748b" };
  var TZ = "Asia/Shanghai";

  function role() { return document.documentElement.getAttribute("data-role") || ""; }
  function mayDrill() { return role() !== "wall" && !document.documentElement.classList.contains("gw-kiosk"); }
  function go(href) { if (href && href.charAt(0) === "/" && href.charAt(1) !== "/") { window.location.assign(href); } }
  D.go = go;
  function esc(s) { var d = document.createElement("div"); d.textContent = String(s); return d.innerHTML; }

  /* ---- tables: a row opens its page; CSV of what is shown -------------------------------- */
  document.addEventListener("click", function (e) {
    var t = e.target;
    if (!t || !t.closest) { return; }
    var csv = t.closest(".dr-csv[data-grid]");
    if (csv) {
      var id = csv.getAttribute("data-grid");
      var api = window.dash_ag_grid && window.dash_ag_grid.getApi && window.dash_ag_grid.getApi(id);
      if (api) { api.exportDataAsCsv({ fileName: id + ".csv" }); }
      return;
    }
    var row = t.closest(".dr-page .ag-row[row-id]");
    if (row && !t.closest(".ag-header")) {
      var href = row.getAttribute("row-id");
      if (href && href.charAt(0) === "/") { go(href.split("#")[0]); }
      return;
    }
    var link = t.closest("[data-href]");
    if (link && mayDrill()) { go(link.getAttribute("data-href")); return; }
    /* the wall's panels: a street, an overdue case, a department opens its page */
    var wallRow = t.closest("[id^='gw-st-'], [id^='gw-od-'], [id^='gw-rk-']");
    if (wallRow && mayDrill()) {
      var id = wallRow.id, code = encodeURIComponent(id.slice(6));
      go({ "gw-st-": "/street/", "gw-od-": "/case/", "gw-rk-": "/department/" }[id.slice(0, 6)] + code);
    }
  });
  document.addEventListener("change", function (e) {
    if (e.target && e.target.id === "drill-day" && e.target.value) {
      var u = new URL(window.location.href);
      u.searchParams.set("day", e.target.value.replace(/-/g, ""));
      window.location.assign(u.pathname + u.search);
    }
  });

  /* ---- the wall: drill down from a worker dot or a place on the map ----------------------- */
  var dotClicked = 0;
  document.addEventListener("gw-worker-click", function (e) {
    dotClicked = Date.now();
    if (mayDrill()) { go("/worker/" + encodeURIComponent(e.detail.id)); }
  });

  /* ---- maps ------------------------------------------------------------------------------------ */
  function dataOf(id) {
    var el = document.querySelector('.dr-map-data[data-map="' + id + '"]');
    if (!el) { return null; }
    try { return JSON.parse(el.getAttribute("data-geo")); } catch (err) { return null; }
  }
  function fill(open, max) {
    if (!open) { return "#12304f"; }
    var k = Math.min(1, open / Math.max(8, max));  // a grid with one case is not an alarm
    var r = Math.round(18 + k * (200 - 18)), g = Math.round(48 + k * (70 - 48)), b = Math.round(79 - k * 40);
    return "rgb(" + r + "," + g + "," + b + ")";
  }
  function tip(layer, text) { layer.bindTooltip(esc(text), { sticky: true, direction: "top" }); }

  function drawUnit(map, d) {
    var L = window.L, r = L.canvas({ padding: 0.3 });
    if (d.grids && d.grids.features.length) {
      L.geoJSON(d.grids, { renderer: r, interactive: false,
        style: { color: "#2b4a70", weight: 0.8, fill: false } }).addTo(map);
    }
    L.geoJSON(d.areas, {
      renderer: r,
      style: function (f) {
        return { color: "#9cc6ff", weight: d.kind === "grid" ? 1.2 : 2.2, fillOpacity: 0.55,
                 fillColor: fill(f.properties.open, d.max_open) };
      },
      onEachFeature: function (f, layer) {
        tip(layer, f.properties.name + " · " + f.properties.open);
        layer.on("click", function () { go(f.properties.href); });
        layer.on("mouseover", function () { layer.setStyle({ weight: 4, color: "#ffffff" }); });
        layer.on("mouseout", function () { layer.setStyle({ weight: d.kind === "grid" ? 1.2 : 2.2, color: "#9cc6ff" }); });
      },
    }).addTo(map);
    var dense = (d.workers || []).length > 60;
    (d.cases || []).forEach(function (c) {
      var m = L.circleMarker([c.lat, c.lon], { renderer: r, radius: dense ? 3.5 : 6, weight: c.late ? 2.5 : 1,
        color: c.late ? "#ff2d55" : "#0b1220", fillColor: URGENCY[c.u] || "#f59e0b", fillOpacity: 0.95 });
      tip(m, c.t);
      m.on("click", function () { go(c.href); });
      m.addTo(map);
    });
    (d.workers || []).forEach(function (w) {
      var m = L.circleMarker([w.lat, w.lon], { renderer: r, radius: dense ? 3.5 : 7, weight: dense ? 1 : 1.5, color: "#0b1220",
        fillColor: STATUS[w.status] || "#64748b", fillOpacity: 1 });
      tip(m, w.name);
      m.on("click", function () { go(w.href); });
      m.addTo(map);
    });
  }

  function drawCase(map, d) {
    var L = window.L;
    if (d.ring && d.ring.length) {
      L.polygon(d.ring, { color: "#9cc6ff", weight: 2, fillColor: "#12304f", fillOpacity: 0.5 }).addTo(map);
    }
    L.circleMarker(d.point, { radius: 9, weight: 2, color: "#ffffff", fillColor: URGENCY[d.u] || "#f59e0b",
      fillOpacity: 1 }).addTo(map);
  }

  /* ---- track replay ------------------------------------------------------------------------------ */
  function fmtTime(ts) {
    return new Date(ts * 1000).toLocaleTimeString(document.documentElement.lang === "en" ? "en-GB" : "zh-CN",
      { timeZone: TZ, hour12: false });
  }
  function drawTrack(map, d) {
    var L = window.L, box = document.getElementById("drill-replay");
    L.polygon(d.ring, { color: "#9cc6ff", weight: 2, fillColor: "#12304f", fillOpacity: 0.45 }).addTo(map);
    var pts = d.track || [];
    if (!box) { return; }
    box.textContent = "";
    if (!pts.length) {
      var empty = document.createElement("div");
      empty.className = "dr-empty";
      empty.textContent = box.getAttribute("data-empty");
      box.appendChild(empty);
      return;
    }
    var lls = pts.map(function (p) { return [p[1], p[2]]; });
    L.polyline(lls, { color: "#4cc3ff", weight: 2, opacity: 0.35 }).addTo(map);
    var done = L.polyline([], { color: "#22c55e", weight: 3.5, opacity: 0.95 }).addTo(map);
    var marker = L.circleMarker(lls[0], { radius: 8, weight: 2, color: "#ffffff", fillColor: "#22c55e",
      fillOpacity: 1 }).addTo(map);
    var play = document.createElement("button");
    play.className = "dr-btn dr-primary"; play.id = "drill-replay-play";
    var slider = document.createElement("input");
    slider.type = "range"; slider.min = 0; slider.max = pts.length - 1; slider.value = 0;
    slider.id = "drill-replay-slider"; slider.className = "dr-slider";
    var label = document.createElement("span"); label.className = "dr-replay-time"; label.id = "drill-replay-time";
    var speed = document.createElement("select"); speed.id = "drill-replay-speed"; speed.className = "dr-select";
    [10, 60, 300, 1200].forEach(function (s) {
      var o = document.createElement("option"); o.value = s; o.textContent = box.getAttribute("data-speed") + " ×" + s;
      if (s === 60) { o.selected = true; }
      speed.appendChild(o);
    });
    box.appendChild(play); box.appendChild(slider); box.appendChild(label); box.appendChild(speed);
    var R = (D.replay = { i: 0, t: pts[0][0], playing: false, timer: null, points: pts });
    function show(i) {
      R.i = i; slider.value = i;
      marker.setLatLng(lls[i]);
      done.setLatLngs(lls.slice(0, i + 1));
      label.textContent = fmtTime(pts[i][0]) + "  " + (i + 1) + "/" + pts.length;
    }
    function setPlaying(on) {
      R.playing = on;
      play.textContent = on ? box.getAttribute("data-pause") : box.getAttribute("data-play");
      if (R.timer) { clearInterval(R.timer); R.timer = null; }
      if (!on) { return; }
      if (R.i >= pts.length - 1) { R.t = pts[0][0]; show(0); }
      R.t = pts[R.i][0];
      R.timer = setInterval(function () {  // drives the animation only: no data is fetched
        R.t += Number(speed.value) * 0.1;
        var i = R.i;
        while (i < pts.length - 1 && pts[i + 1][0] <= R.t) { i++; }
        show(i);
        if (i >= pts.length - 1) { setPlaying(false); }
      }, 100);
    }
    play.addEventListener("click", function () { setPlaying(!R.playing); });
    slider.addEventListener("input", function () { show(Number(slider.value)); R.t = pts[R.i][0]; });
    D.replay.show = show; D.replay.setPlaying = setPlaying;
    D.replay.marker = function () { var ll = marker.getLatLng(); return [ll.lat, ll.lng]; };
    setPlaying(false);
    show(0);
  }

  /* ---- grid boundary editor ------------------------------------------------------------------ */
  function drawEdit(map, d) {
    var L = window.L, code = d.code;
    var rings = {}, polys = {}, changed = {};
    Object.keys(d.rings).forEach(function (c) { rings[c] = d.rings[c].slice(0, -1).map(function (p) { return [p[0], p[1]]; }); });
    Object.keys(rings).forEach(function (c) {
      var mine = c === code;
      polys[c] = L.polygon(rings[c].map(function (p) { return [p[1], p[0]]; }), {
        color: mine ? "#4cc3ff" : "#5b7395", weight: mine ? 3 : 1.5, fillColor: mine ? "#1f6fb2" : "#12304f",
        fillOpacity: mine ? 0.35 : 0.45, interactive: !mine }).addTo(map);
      if (!mine) {
        tip(polys[c], d.names[c]);
        polys[c].on("click", function () { go("/grids/edit/" + c); });
      }
    });
    var handles = [], mids = [];
    function same(a, b) { return Math.abs(a[0] - b[0]) < 1e-9 && Math.abs(a[1] - b[1]) < 1e-9; }
    function linked(pt) {  // [[grid, index]] of every ring vertex at this point
      var out = [];
      Object.keys(rings).forEach(function (c) {
        rings[c].forEach(function (p, i) { if (same(p, pt)) { out.push([c, i]); } });
      });
      return out;
    }
    function publish() {
      var out = { rings: {}, expected: {} };
      Object.keys(changed).forEach(function (c) {
        out.rings[c] = rings[c].concat([rings[c][0]]);
        out.expected[c] = d.versions[c] || 0;
      });
      if (window.dash_clientside && window.dash_clientside.set_props) {
        window.dash_clientside.set_props("ge-changes", { data: out });
      }
      D.edit.changes = out;
    }
    function redraw(c) { polys[c].setLatLngs(rings[c].map(function (p) { return [p[1], p[0]]; })); }
    function icon(cls) { return L.divIcon({ className: cls, iconSize: [14, 14], iconAnchor: [7, 7] }); }
    function build() {
      handles.concat(mids).forEach(function (m) { map.removeLayer(m); });
      handles = []; mids = [];
      rings[code].forEach(function (p, i) {
        var shared = linked(p).length > 1;
        var m = L.marker([p[1], p[0]], { draggable: true, icon: icon("dr-vertex" + (shared ? " dr-shared" : "")),
                                         keyboard: false, zIndexOffset: 1000 }).addTo(map);
        var links = null;
        m.on("dragstart", function () { links = linked(rings[code][i]); });
        m.on("drag", function (e) {
          var ll = e.target.getLatLng();
          move(links, ll.lng, ll.lat, false);
        });
        m.on("dragend", function () { build(); });
        m.on("contextmenu", function (e) {
          if (e.originalEvent) { e.originalEvent.preventDefault(); }
          remove(i);
        });
        handles.push(m);
      });
      rings[code].forEach(function (p, i) {
        var q = rings[code][(i + 1) % rings[code].length];
        var m = L.marker([(p[1] + q[1]) / 2, (p[0] + q[0]) / 2], { icon: icon("dr-mid"), keyboard: false }).addTo(map);
        m.on("click", function () { insert(i); });
        mids.push(m);
      });
    }
    function move(links, lon, lat, rebuild) {
      links.forEach(function (l) { rings[l[0]][l[1]] = [lon, lat]; changed[l[0]] = true; redraw(l[0]); });
      publish();
      if (rebuild) { build(); }
    }
    function insert(i) {  // a new vertex mid-edge, in the neighbour sharing that edge too
      var r = rings[code], a = r[i], b = r[(i + 1) % r.length];
      var mid = [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2];
      Object.keys(rings).forEach(function (c) {
        var s = rings[c];
        for (var j = 0; j < s.length; j++) {
          var p = s[j], q = s[(j + 1) % s.length];
          if ((same(p, a) && same(q, b)) || (same(p, b) && same(q, a))) {
            s.splice(j + 1, 0, mid.slice()); changed[c] = true; redraw(c); break;
          }
        }
      });
      publish(); build();
    }
    function remove(i) {
      if (rings[code].length <= 3) { return; }
      var pt = rings[code][i];
      linked(pt).sort(function (x, y) { return y[1] - x[1]; }).forEach(function (l) {
        if (rings[l[0]].length > 3) { rings[l[0]].splice(l[1], 1); changed[l[0]] = true; redraw(l[0]); }
      });
      publish(); build();
    }
    D.edit = {
      rings: rings, changes: {},
      /* Move vertex i of the edited grid (and every vertex shared with it) to lon, lat. */
      move: function (i, lon, lat) { move(linked(rings[code][i]), lon, lat, true); },
      vertex: function (i) { return rings[code][i].slice(); },
      insert: insert, remove: remove,
    };
    build();
    var reset = document.getElementById("ge-reset");
    if (reset) { reset.addEventListener("click", function () { window.location.reload(); }); }
  }

  /* ---- hook every map as dash-leaflet creates it ---------------------------------------------- */
  document.addEventListener("gw-map", function (e) {
    var id = e.detail.id || "", map = e.detail.map;
    if (id.indexOf("wall-map") === 0) {
      map.on("click", function (ev) {
        var at = Date.now();
        setTimeout(function () {
          if (dotClicked >= at - 5 || !mayDrill()) { return; }
          go("/locate?level=street&lat=" + ev.latlng.lat.toFixed(6) + "&lon=" + ev.latlng.lng.toFixed(6));
        }, 0);
      });
      return;
    }
    if (id.indexOf("drill-map") !== 0) { return; }
    map.whenReady(function () {
      setTimeout(function () {
        var d = dataOf(id);
        if (!d) { return; }
        D.maps[id] = map;
        if (d.bounds) { map.fitBounds(d.bounds, { padding: [16, 16], animate: false }); }
        if (d.mode === "track") { drawTrack(map, d); }
        else if (d.mode === "case") { drawCase(map, d); }
        else if (d.mode === "edit") { drawEdit(map, d); }
        else { drawUnit(map, d); }
        D.ready = (D.ready || 0) + 1;
        document.dispatchEvent(new CustomEvent("gw-drill-map", { detail: { id: id } }));
      }, 0);
    });
  });
})();
