/* Gridwall wall client: socket.io push -> Leaflet canvas markers, KPI tiles and panel stores.
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
              document.getElementById("gw-config-ready"));
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

  /* Every wall map (one per street group) gets its own panes, canvas renderer and markers. */
  gw.state.views = {};

  function makeView(id, map) {
    if (!map.getPane("gw-trails")) {
      map.createPane("gw-trails").style.zIndex = 440;
      map.createPane("gw-workers").style.zIndex = 450;
    }
    var v = { map: map, markers: {}, trailLines: {},
              renderer: window.L.canvas({ padding: 0.2, pane: "gw-workers" }),
              trailRenderer: window.L.canvas({ padding: 0.2, pane: "gw-trails" }) };
    v.trailLayer = window.L.layerGroup().addTo(map);
    v.layer = window.L.layerGroup().addTo(map);
    gw.state.views[id] = v;
    return v;
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

  function drawIn(v, id, w, status) {
    var m = v.markers[id];
    var style = { radius: status === "patrolling" ? 7 : 6, color: "#0b1220", weight: 1.5,
                  fillColor: COLORS[status], fillOpacity: 0.95, renderer: v.renderer };
    if (!m) {
      m = window.L.circleMarker([w.lat, w.lon], style);
      m.bindTooltip(function () { return escapeText(tooltip(id)); });
      m.on("click", function () { document.dispatchEvent(new CustomEvent("gw-worker-click", { detail: { id: id } })); });
      m.addTo(v.layer);
      v.markers[id] = m;
    } else {
      m.setLatLng([w.lat, w.lon]);
      if (m.gwStatus !== status) { m.setStyle(style); }
    }
    m.gwStatus = status;
    var t = gw.state.trails[id];
    var line = v.trailLines[id];
    if (status === "patrolling" && t && t.length > 1) {
      if (!line) {
        line = window.L.polyline(t, { color: "#22c55e", weight: 2.5, opacity: 0.5,
                                      renderer: v.trailRenderer, interactive: false });
        line.addTo(v.trailLayer);
        v.trailLines[id] = line;
      } else {
        line.setLatLngs(t);
      }
    } else if (line && status !== "patrolling") {
      v.trailLayer.removeLayer(line);
      delete v.trailLines[id];
    }
  }

  function drawWorker(id, w) {
    var status = statusOf(w);
    if (status === "patrolling") { extendTrail(id, w); }
    for (var vid in gw.state.views) { drawIn(gw.state.views[vid], id, w, status); }
    gw.state.statuses[id] = status;
  }
  gw.state.statuses = {};
  gw.markerOf = function (id) {
    for (var vid in gw.state.views) { if (gw.state.views[vid].markers[id]) { return gw.state.views[vid].markers[id]; } }
    return null;
  };

  function extendTrail(id, w) {
    var t = gw.state.trails[id] || (gw.state.trails[id] = []);
    var last = t[t.length - 1];
    if (!last || last[0] !== w.lat || last[1] !== w.lon) { t.push([w.lat, w.lon]); }
    if (t.length > 80) { t.shift(); }
  }

  function escapeText(s) {
    var d = document.createElement("div");
    d.textContent = String(s);
    return d.innerHTML;
  }

  gw.applyGps = function (msg) {
    if (typeof msg.now === "number") { gw.state.offset = msg.now - Date.now() / 1000; }
    var ids = msg.ids;
    for (var i = 0; i < ids.length; i++) {
      var w = { lat: msg.lat[i], lon: msg.lon[i], st: msg.st[i], g: msg.g[i], ts: msg.ts[i] };
      gw.state.workers[ids[i]] = w;
      drawWorker(ids[i], w);
    }
    gw.lastGps = { n: ids.length, at: Date.now() };
    document.dispatchEvent(new CustomEvent("gw-gps", { detail: { n: ids.length } }));
  };

  /* Workers silent too long turn grey without any message: re-check every few seconds. */
  function refreshOffline() {
    var ws = gw.state.workers;
    for (var id in ws) {
      if (gw.state.statuses[id] !== statusOf(ws[id])) { drawWorker(id, ws[id]); }
    }
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
    setProps("kpi-fixes", { children: fmt(k.fixes_per_s, 1) });
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

  function loadTrails() {
    fetch("/api/v1/wall/trails").then(function (r) { return r.json(); }).then(function (j) {
      for (var id in j) { gw.state.trails[id] = j[id]; }
    }).catch(function () {});
  }

  gw.handlers = gw.handlers || {};
  gw.on = function (event, fn) { (gw.handlers[event] = gw.handlers[event] || []).push(fn); };

  function connect() {
    if (!window.io) { return setTimeout(connect, 50); }
    var socket = (gw.socket = window.io({ transports: ["websocket", "polling"],
      reconnection: true, reconnectionDelay: 500, reconnectionDelayMax: 5000 }));
    socket.on("connect", function () { setConn(true); });
    socket.on("disconnect", function () { setConn(false); });
    socket.on("connect_error", function () { setConn(false); });
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
        var v = makeView(id, map);
        fit(id);
        map.on("unload", function () { if (gw.state.views[id] === v) { delete gw.state.views[id]; } });
        var ws = gw.state.workers;
        for (var wid in ws) { drawIn(v, wid, ws[wid], statusOf(ws[wid])); }
      }, 0);
    });
  });

  function start() {
    loadConfig();
    loadRoster();
    loadTrails();
    connect();
    setInterval(tickClock, 1000);
    setInterval(refreshOffline, 5000);
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); }
  else { start(); }
})();
