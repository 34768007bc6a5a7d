/* Gridwall wall client: socket.io push -> canvas dots on the Leaflet maps, KPI tiles and panel stores.
 * Nothing here polls: every update arrives as a socket.io event. */
(function () {
  "use strict";
  var gw = (window.gw = window.gw || {});
  gw.maps = gw.maps || {};
  gw.state = { workers: {}, roster: null, offset: 0, trails: {} };
  var STATUS = { 0: "offline", 1: "patrolling", 2: "idle", 3: "outside" };
  var COLORS = { patrolling: "#22c55e", idle: "#38bdf8", outside: "#f59e0b", offline: "#64748b" };
  var TEXT = {
    zh: { live: "实时", reconnecting: "重连中…", offline: "离线", patrolling: "巡查中", idle: "待命",
          outside: "离开网格", noData: "暂无数据", street: "街道", online: "在线", total: "总数" },
    en: { live: "live", reconnecting: "reconnecting…", offline: "offline", patrolling: "patrolling",
          idle: "idle", outside: "outside grid", noData: "No data yet", street: "Street",
          online: "online", total: "total" },
  };
  function lang() { return (document.documentElement.getAttribute("lang") === "en") ? "en" : "zh"; }
  function tr(k) { return TEXT[lang()][k] || k; }
  gw.tr = tr;

  /* Capture every Leaflet map as dash-leaflet creates it. */
  function hookLeaflet() {
    if (!window.L || !window.L.Map) { return setTimeout(hookLeaflet, 20); }
    if (window.L.Map.__gwHooked) { return; }
    window.L.Map.__gwHooked = true;
    window.L.Map.addInitHook(function () {
      var id = this._container && this._container.id;
      gw.maps[id || ("map" + Object.keys(gw.maps).length)] = this;
      document.dispatchEvent(new CustomEvent("gw-map", { detail: { id: id, map: this } }));
    });
  }
  hookLeaflet();

  /* Dash components (stores have no DOM node) may not exist yet: keep the latest props per id
   * and apply them as soon as the layout has rendered. */
  var pendingProps = {};
  function layoutReady() {
    return !!(window.dash_clientside && window.dash_clientside.set_props &&
              (document.getElementById("gw-conn") || document.getElementById("gw-config-ready")));
  }
  function setProps(id, props) {
    if (!layoutReady()) {
      pendingProps[id] = Object.assign(pendingProps[id] || {}, props);
      return;
    }
    try { window.dash_clientside.set_props(id, props); } catch (e) { /* page without it */ }
  }
  function flushPending() {
    if (!layoutReady()) { return; }
    var ids = Object.keys(pendingProps);
    for (var i = 0; i < ids.length; i++) {
      var props = pendingProps[ids[i]];
      delete pendingProps[ids[i]];
      try { window.dash_clientside.set_props(ids[i], props); } catch (e) { /* ignore */ }
    }
  }
  gw.setProps = setProps;
  function serverNow() { return Date.now() / 1000 + gw.state.offset; }
  gw.serverNow = serverNow;
  function offlineAfter() { return (gw.config && gw.config.offlineAfter) || 300; }

  /* Every wall map (one per street group) gets one canvas layer drawing all workers. */
  gw.state.views = {};
  gw.state.list = [];   // drawn points: {id, lat, lon, x0, y0, color, big}
  gw.state.index = {};  // id -> index in list

  function makeView(id, map) {
    if (!map.getPane("gw-workers")) { map.createPane("gw-workers").style.zIndex = 450; }
    var layer = gw.makeDotsLayer({
      pane: "gw-workers",
      points: function () { return gw.state.list; },
      trails: trailsFor,
      label: function (p) { return tooltip(p.id); },
      onClick: function (p) {
        document.dispatchEvent(new CustomEvent("gw-worker-click", { detail: { id: p.id } }));
      },
    });
    layer.addTo(map);
    var v = { map: map, layer: layer };
    gw.state.views[id] = v;
    return v;
  }

  /* Trails only where they can be seen: few patrolling workers, or zoomed in. */
  function trailsFor(zoom) {
    var out = [], list = gw.state.list, patrolling = 0;
    for (var i = 0; i < list.length; i++) { if (list[i].status === "patrolling") { patrolling++; } }
    if (patrolling > 3000 && zoom < 15) { return out; }
    for (var j = 0; j < list.length; j++) {
      var p = list[j];
      if (p.status === "patrolling" && gw.state.trails[p.id] && gw.state.trails[p.id].length > 1) {
        out.push(gw.state.trails[p.id].map(function (ll) { return gw.project0(ll[0], ll[1]); }));
      }
    }
    return out;
  }

  function statusOf(w) {
    if (serverNow() - w.ts > offlineAfter()) { return "offline"; }
    return STATUS[w.st] || "idle";
  }

  function tooltip(id) {
    var r = gw.state.roster && gw.state.roster[id];
    var name = r ? r[0] : id;
    var grid = r ? r[1] : "";
    return name + (grid ? " · " + grid : "");
  }

  function drawWorker(id, w) {
    var status = statusOf(w);
    if (status === "patrolling") { extendTrail(id, w); }
    var i = gw.state.index[id];
    var xy = gw.project0(w.lat, w.lon);
    var p = { id: id, lat: w.lat, lon: w.lon, x0: xy[0], y0: xy[1], status: status,
              color: COLORS[status], big: status === "patrolling" };
    if (i === undefined) { gw.state.index[id] = gw.state.list.length; gw.state.list.push(p); }
    else { gw.state.list[i] = p; }
    gw.state.statuses[id] = status;
  }
  function redrawAll() { for (var vid in gw.state.views) { gw.state.views[vid].layer.redraw(); } }
  gw.state.statuses = {};
  /* For tests and the drill-down: where a worker is drawn now, or null. */
  gw.positionOf = function (id) {
    var i = gw.state.index[id];
    return i === undefined ? null : [gw.state.list[i].lat, gw.state.list[i].lon];
  };
  gw.drawnCount = function () {
    var n = 0;
    for (var vid in gw.state.views) { n += gw.state.views[vid].layer.drawn || 0; }
    return n;
  };

  function extendTrail(id, w) {
    var t = gw.state.trails[id] || (gw.state.trails[id] = []);
    var last = t[t.length - 1];
    if (!last || last[0] !== w.lat || last[1] !== w.lon) { t.push([w.lat, w.lon]); }
    if (t.length > 80) { t.shift(); }
  }

  gw.applyGps = function (msg) {
    if (typeof msg.now === "number") { gw.state.offset = msg.now - Date.now() / 1000; }
    var ids = msg.ids;
    for (var i = 0; i < ids.length; i++) {
      var w = { lat: msg.lat[i], lon: msg.lon[i], st: msg.st[i], g: msg.g[i], ts: msg.ts[i] };
      gw.state.workers[ids[i]] = w;
      drawWorker(ids[i], w);
    }
    redrawAll();
    gw.lastGps = { n: ids.length, at: Date.now() };
    document.dispatchEvent(new CustomEvent("gw-gps", { detail: { n: ids.length } }));
  };

  /* Workers silent too long turn grey without any message: re-check every few seconds. */
  function refreshOffline() {
    var ws = gw.state.workers, changed = false;
    for (var id in ws) {
      if (gw.state.statuses[id] !== statusOf(ws[id])) { drawWorker(id, ws[id]); changed = true; }
    }
    if (changed) { redrawAll(); }
  }

  function fmt(n, digits) {
    if (n === null || n === undefined || isNaN(n)) { return "—"; }
    return Number(n).toLocaleString(lang() === "en" ? "en-US" : "zh-CN",
      { maximumFractionDigits: digits || 0, minimumFractionDigits: digits || 0 });
  }
  gw.fmt = fmt;

  gw.applyKpi = function (k) {
    setProps("kpi-online", { children: fmt(k.online) + " / " + fmt(k.total) });
    setProps("kpi-patrolling", { children: fmt(k.patrolling) });
    setProps("kpi-outside", { children: fmt(k.outside) });
    setProps("kpi-fixes", { children: fmt(k.fixes_per_s, k.fixes_per_s < 100 ? 1 : 0) });  /* 49.4, 1,004 */
    setProps("kpi-lag", { children: fmt(k.lag_s, 1) });
    setProps("kpi-dead", { children: fmt(k.deadletters) });
  };

  function setConn(ok) {
    gw.connected = ok;
    setProps("gw-conn", { children: ok ? tr("live") : tr("reconnecting"),
                          className: "gw-conn " + (ok ? "gw-conn-ok" : "gw-conn-wait") });
    document.body.classList.toggle("gw-offline", !ok);
  }

  function tickClock() {
    flushPending();
    var el = document.getElementById("gw-clock");
    if (el) {
      var d = new Date(serverNow() * 1000);
      el.textContent = d.toLocaleString(lang() === "en" ? "en-GB" : "zh-CN",
        { timeZone: "Asia/Shanghai", hour12: false, year: "numeric", month: "2-digit",
          day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
    }
  }

  function loadRoster() {
    fetch("/api/v1/wall/roster").then(function (r) { return r.json(); })
      .then(function (j) { gw.state.roster = j; }).catch(function () { setTimeout(loadRoster, 3000); });
  }

  function loadConfig() {
    fetch("/api/v1/wall/config").then(function (r) { return r.json(); }).then(function (j) {
      gw.config = j;
      for (var id in gw.state.views) { fit(id); }
    }).catch(function () { setTimeout(loadConfig, 3000); });
  }

  function fit(id) {
    var v = gw.state.views[id];
    var b = gw.config && gw.config.maps && gw.config.maps[id];
    if (!v || !b) { return; }
    v.map.invalidateSize();
    v.map.fitBounds(b, { padding: [28, 28], animate: false });
  }
  window.addEventListener("resize", function () { for (var id in gw.state.views) { fit(id); } });

  /* The basemap (grid, station and street outlines) comes once, as plain GeoJSON. */
  var basemap = null, basemapWaiting = [];
  function loadBasemap() {
    fetch("/api/v1/wall/basemap").then(function (r) { return r.json(); }).then(function (j) {
      basemap = j;
      basemapWaiting.splice(0).forEach(function (map) { drawBasemap(map); });
    }).catch(function () { setTimeout(loadBasemap, 3000); });
  }
  function drawBasemap(map) {
    if (!basemap) { basemapWaiting.push(map); return; }
    if (map.__gwBasemap) { return; }
    map.__gwBasemap = true;
    var L = window.L, r = L.canvas({ padding: 0.3 });
    if (basemap.grids) {
      L.geoJSON(basemap.grids, { renderer: r, interactive: false, style: function (f) {
        return { color: "#3b5b80", weight: 1, fillColor: f.properties.fill, fillOpacity: 0.85 };
      } }).addTo(map);
    }
    if (basemap.stations) {
      L.geoJSON(basemap.stations, { renderer: r, interactive: false,
        style: { color: "#5b8bd0", weight: 2, fill: false } }).addTo(map);
    }
    L.geoJSON(basemap.streets, { renderer: r, interactive: false,
      style: { color: "#9cc6ff", weight: 4, fill: false } }).addTo(map);
  }
  gw.drawBasemap = drawBasemap;

  function loadTrails() {
    fetch("/api/v1/wall/trails").then(function (r) { return r.json(); }).then(function (j) {
      for (var id in j) { gw.state.trails[id] = j[id]; }
      redrawAll();
    }).catch(function () {});
  }

  gw.handlers = gw.handlers || {};
  gw.on = function (event, fn) { (gw.handlers[event] = gw.handlers[event] || []).push(fn); };

  function connect() {
    if (!window.io) { return setTimeout(connect, 50); }
    /* Drill-down pages need no live push (and a street supervisor may not join the wall). */
    if (document.documentElement.getAttribute("data-push") === "0") { return; }
    var socket = (gw.socket = window.io({ transports: ["websocket", "polling"],
      reconnection: true, reconnectionDelay: 500, reconnectionDelayMax: 5000 }));
    /* socket.io gives up when the server refuses or closes the connection itself (Redis was
       down when we asked): the wall keeps asking, so it comes back without anyone at it. */
    var askDelay = 2000;
    function askAgain() {
      setTimeout(function () { if (!socket.connected) { socket.connect(); } }, askDelay);
      askDelay = Math.min(askDelay * 2, 30000);
    }
    socket.on("connect", function () { askDelay = 2000; setConn(true); });
    socket.on("disconnect", function (reason) {
      setConn(false);
      if (reason === "io server disconnect") { askAgain(); }
    });
    socket.on("connect_error", function () { setConn(false); if (!socket.active) { askAgain(); } });
    socket.on("gps", function (m) { gw.applyGps(m); });
    socket.on("kpi", function (m) { gw.applyKpi(m); });
    socket.on("streets", function (m) { setProps("gw-streets-store", { data: m }); });
    socket.on("rejections", function (m) { setProps("gw-health-store", { data: m }); });
    socket.onAny(function (event, payload) {
      (gw.handlers[event] || []).forEach(function (fn) { fn(payload); });
    });
  }

  /* The init hook fires while dash-leaflet is still building the map: draw once it is ready. */
  document.addEventListener("gw-map", function (e) {
    var id = e.detail.id || "";
    if (id.indexOf("wall-map") !== 0) { return; }
    var map = e.detail.map;
    map.whenReady(function () {
      setTimeout(function () {
        drawBasemap(map);
        var v = makeView(id, map);
        fit(id);
        map.on("unload", function () { if (gw.state.views[id] === v) { delete gw.state.views[id]; } });
        v.layer.redraw();
      }, 0);
    });
  });

  /* The first paint needs the live snapshot, the map extents and the outlines; names (for
     tooltips) and trails come right after it, so they do not hold the server up before. */
  var extrasLoaded = false;
  function loadExtras() {
    if (extrasLoaded) { return; }
    extrasLoaded = true;
    loadRoster();
    loadTrails();
  }
  gw.on("gps", loadExtras);

  function start() {
    connect();
    loadConfig();
    loadBasemap();
    setTimeout(loadExtras, 5000);  /* no live push (drill-down pages) or a slow one */
    setInterval(tickClock, 1000);
    setInterval(refreshOffline, 5000);
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); }
  else { start(); }
})();
