/* Case loop on the wall: case markers (diamonds by urgency, ring by status) on every wall map,
 * grids shaded by open-case density, KPI tiles, overdue alerts and department ranking.
 * Everything arrives by socket.io push (case_kpi, case_overdue, case_ranking, case_map and the
 * "cases" deltas); text from data is only ever rendered as text. */
(function () {
  "use strict";
  var gw = (window.gw = window.gw || {});
  var C = (gw.cases = { views: {}, data: {}, overdue: null, ranking: null, grids: {},
                        firstSeen: {}, offset: 0 });
  var URGENCY = { urgent: "#ef4444", normal: "#f59e0b", routine: "#38bdf8" };
  var UNHANDLED = { dispatched: 1, accepted: 1, returned: 1 };
  var NEW_MS = 8000; // an overdue case is highlighted this long after it first appears
  var TEXT = {
    zh: { late: "超期", total: "共", unit: "件", open: "在办", overdue: "超期", today: "今日",
          month: "本月", median: "中位时长", best: "最佳", worst: "最差", h: "小时", m: "分",
          d: "天", dept: "部门", noData: "暂无数据", none: "暂无超期案件", esc1: "已督办街道",
          esc2: "已督办区级" },
    en: { late: "late", total: "", unit: "overdue", open: "Open", overdue: "Late", today: "Today",
          month: "Month", median: "Median", best: "best", worst: "worst", h: "h", m: "m",
          d: "d", dept: "Department", noData: "No data yet", none: "Nothing overdue",
          esc1: "street notified", esc2: "district notified" },
  };
  function lang() { return document.documentElement.getAttribute("lang") === "en" ? "en" : "zh"; }
  function tr(k) { return TEXT[lang()][k] || k; }
  /* Pushed item, department and street names (Chinese) in the page's language: the wall's
   * name table (gw.term, wall_panels.js). Panels wait for the wall so no name shows untranslated. */
  function term(w) { return gw.term ? gw.term(w) : w; }
  function wallReady() { return !!(gw.termsReady && gw.termsReady()); }
  function now() { return gw.serverNow ? gw.serverNow() : Date.now() / 1000; }
  function on(event, fn) {
    gw.handlers = gw.handlers || {};
    (gw.handlers[event] = gw.handlers[event] || []).push(fn);
  }
  function setProps(id, props) {
    if (gw.setProps) { gw.setProps(id, props); }
  }
  function el(type, props, children) {
    var p = Object.assign({}, props || {});
    if (children !== undefined) { p.children = children; }
    return { type: type, namespace: "dash_html_components", props: p };
  }
  function fmt(n, d) { return gw.fmt ? gw.fmt(n, d) : String(n); }
  function pct(x) { return x === null || x === undefined ? "—" : fmt(x * 100, 0) + "%"; }
  function duration(s) {
    s = Math.max(0, Math.round(s));
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    if (d) { return d + tr("d") + (h ? " " + h + tr("h") : ""); }
    if (h) { return h + tr("h") + (m ? " " + m + tr("m") : ""); }
    return m + tr("m");
  }
  function escapeText(s) {
    var div = document.createElement("div");
    div.textContent = String(s);
    return div.innerHTML;
  }

  /* ---- map: a diamond marker drawn on the canvas renderer ------------------------------ */
  function installDiamond() {
    var L = window.L;
    if (!L || !L.Canvas || L.GwDiamond) { return !!(L && L.GwDiamond); }
    L.Canvas.include({
      _updateGwDiamond: function (layer) {
        if (!this._drawing || layer._empty()) { return; }
        var p = layer._point, r = layer._radius, ctx = this._ctx;
        ctx.beginPath();
        ctx.moveTo(p.x, p.y - r); ctx.lineTo(p.x + r, p.y);
        ctx.lineTo(p.x, p.y + r); ctx.lineTo(p.x - r, p.y);
        ctx.closePath();
        this._fillStroke(ctx, layer);
      },
    });
    L.GwDiamond = L.CircleMarker.extend({
      _updatePath: function () { this._renderer._updateGwDiamond(this); },
    });
    return true;
  }

  function styleOf(c) {
    var late = UNHANDLED[c.s] && c.dl && c.dl < now();
    var ring = late ? "#ff2d55" : c.s === "accepted" ? "#e6edf7" : c.s === "handled" || c.s === "verified" ? "#22c55e" : "#0b1220";
    return { radius: late ? 8 : 6, color: ring, weight: late ? 2.5 : 1.5, fillColor: URGENCY[c.u] || "#f59e0b",
             fillOpacity: c.s === "handled" || c.s === "verified" ? 0.45 : 0.95 };
  }

  function makeView(id, map) {
    if (!installDiamond()) { return null; }
    if (!map.getPane("gw-cases")) { map.createPane("gw-cases").style.zIndex = 445; }
    var v = { map: map, markers: {}, layer: window.L.layerGroup().addTo(map),
              renderer: window.L.canvas({ padding: 0.2, pane: "gw-cases" }) };
    C.views[id] = v;
    map.on("unload", function () { if (C.views[id] === v) { delete C.views[id]; } });
    for (var cid in C.data) { drawIn(v, cid, C.data[cid]); }
    shadeMap(map);
    return v;
  }

  function drawIn(v, id, c) {
    var m = v.markers[id];
    var style = styleOf(c);
    if (!m) {
      style.renderer = v.renderer;
      m = new window.L.GwDiamond([c.lat, c.lon], style);
      m.bindTooltip(function () {  /* "item · department", each in the page's language */
        return escapeText(C.data[id] ? String(C.data[id].t).split(" · ").map(term).join(" · ") : "");
      });
      m.addTo(v.layer);
      v.markers[id] = m;
    } else {
      m.setLatLng([c.lat, c.lon]);
      m.setStyle(style);
      m.setRadius(style.radius);
    }
  }

  function removeIn(v, id) {
    var m = v.markers[id];
    if (m) { v.layer.removeLayer(m); delete v.markers[id]; }
  }

  function upsert(c) {
    if (!c.open) {
      delete C.data[c.id];
      for (var vid in C.views) { removeIn(C.views[vid], c.id); }
      return;
    }
    C.data[c.id] = c;
    for (var v in C.views) { drawIn(C.views[v], c.id, c); }
  }
  gw.casesMarker = function (id) {
    for (var v in C.views) { if (C.views[v].markers[id]) { return C.views[v].markers[id]; } }
    return null;
  };

  function applySnapshot(s) {
    var keep = {};
    for (var i = 0; i < s.ids.length; i++) {
      keep[s.ids[i]] = 1;
      upsert({ id: s.ids[i], lat: s.lat[i], lon: s.lon[i], u: s.u[i], s: s.s[i], dl: s.dl[i],
               t: s.t[i], open: true });
    }
    for (var id in C.data) {
      if (!keep[id]) { upsert({ id: id, open: false }); }
    }
    C.grids = s.grids || {};
    for (var v in C.views) { shadeMap(C.views[v].map); }
  }

  /* Grids shaded by open-case density: the street fill blends towards red. */
  function shadeMap(map) {
    var counts = C.grids, max = 0;
    for (var g in counts) { if (counts[g] > max) { max = counts[g]; } }
    map.eachLayer(function (layer) {
      var f = layer.feature;
      if (!f || !f.properties || f.properties.households === undefined || !layer.setStyle) { return; }
      if (layer.gwBaseFill === undefined) {
        layer.gwBaseFill = layer.options.fillColor;
        layer.gwBaseOpacity = layer.options.fillOpacity;
      }
      var n = counts[f.properties.code] || 0;
      if (!n || !max) {
        layer.setStyle({ fillColor: layer.gwBaseFill, fillOpacity: layer.gwBaseOpacity });
      } else {
        var share = n / max;  // a few busy grids stand out; one case barely tints a grid
        if (share < 0.34) { layer.setStyle({ fillColor: layer.gwBaseFill, fillOpacity: layer.gwBaseOpacity }); return; }
        layer.setStyle({ fillColor: share > 0.67 ? "#9f1239" : "#6b2a3a", fillOpacity: 0.55 + 0.4 * share });
      }
    });
  }

  /* ---- KPIs -------------------------------------------------------------------------------- */
  function applyKpi(k) {
    setProps("kpi-case-reports", { children: fmt(k.reports_today) });
    setProps("kpi-case-open", { children: fmt(k.open) });
    setProps("kpi-case-overdue", { children: fmt(k.overdue) });
    setProps("kpi-case-ontime", { children: k.ontime_today === null ? "—" : fmt(k.ontime_today * 100, 0) });
    var tile = document.getElementById("kpi-case-overdue");
    if (tile && tile.closest(".gw-kpi")) { tile.closest(".gw-kpi").classList.toggle("gw-kpi-alert", k.overdue > 0); }
  }

  /* ---- overdue alerts ------------------------------------------------------------------------ */
  function renderOverdue() {
    var o = C.overdue;
    if (!o || !wallReady()) { return; }
    var t = now(), ms = Date.now();
    var rows = o.rows.map(function (r) {
      if (!C.firstSeen[r.id]) { C.firstSeen[r.id] = C.primed ? ms : 1; }
      var fresh = ms - C.firstSeen[r.id] < NEW_MS;
      var esc = r.escalation >= 2 ? tr("esc2") : r.escalation === 1 ? tr("esc1") : "";
      return el("Div", { className: "gw-od-row" + (fresh ? " gw-new" : ""), key: r.id, id: "gw-od-" + r.id }, [
        el("Div", { className: "gw-od-line" }, [
          el("Span", { className: "gw-udot", style: { background: URGENCY[r.urgency] || "#f59e0b" } }),
          el("Span", { className: "gw-od-item" }, term(r.item)),
          el("Span", { className: "gw-od-late" }, tr("late") + " " + duration(t - r.deadline)),
        ]),
        el("Div", { className: "gw-od-sub" }, [
          el("Span", { className: "gw-od-place" },
             r.street !== undefined ? (term(r.street) + " " + r.grid).trim() : r.place),
          el("Span", { className: "gw-od-dept" }, term(r.dept)),
          esc ? el("Span", { className: "gw-od-esc" }, esc) : null,
        ]),
      ]);
    });
    C.primed = true;
    var head = el("Div", { className: "gw-od-total" },
      lang() === "en" ? fmt(o.total) + " " + tr("unit") : tr("total") + " " + fmt(o.total) + " " + tr("unit"));
    setProps("gw-overdue", { children: rows.length ? [head].concat(rows) : el("Div", { className: "gw-empty" }, tr("none")) });
  }

  function addOverdue(row) {
    var o = C.overdue || (C.overdue = { rows: [], total: 0 });
    if (o.rows.some(function (r) { return r.id === row.id; })) { return; }
    C.firstSeen[row.id] = Date.now();
    o.rows.unshift(row);
    o.rows = o.rows.slice(0, 40);
    o.total += 1;
    renderOverdue();
  }

  /* ---- department ranking --------------------------------------------------------------------- */
  function renderRanking() {
    var data = C.ranking;
    if (!data) { return; }
    if (!wallReady()) { C.rankingLater = true; return; }
    C.rankingLater = false;
    if (!data.rows.length) { setProps("gw-ranking", { children: el("Div", { className: "gw-empty" }, tr("noData")) }); return; }
    var head = el("Div", { className: "gw-rk-row gw-rk-head" }, [
      el("Span", { className: "gw-rk-n" }, "#"), el("Span", { className: "gw-rk-name" }, tr("dept")),
      el("Span", { className: "gw-rk-num" }, tr("open")), el("Span", { className: "gw-rk-num" }, tr("overdue")),
      el("Span", { className: "gw-rk-num" }, tr("today")), el("Span", { className: "gw-rk-num" }, tr("month")),
      el("Span", { className: "gw-rk-num gw-rk-wide" }, tr("median")),
    ]);
    var rows = data.rows.map(function (r, i) {
      return el("Div", { className: "gw-rk-row" + (r.mark ? " gw-rk-" + r.mark : ""), key: r.code, id: "gw-rk-" + r.code }, [
        el("Span", { className: "gw-rk-n" }, String(i + 1)),
        el("Span", { className: "gw-rk-name" }, [term(r.name), r.mark ? el("Span", { className: "gw-rk-badge" }, tr(r.mark)) : null]),
        el("Span", { className: "gw-rk-num" }, fmt(r.open)),
        el("Span", { className: "gw-rk-num" + (r.overdue ? " gw-rk-bad" : "") }, fmt(r.overdue)),
        el("Span", { className: "gw-rk-num" }, pct(r.ontime_today)),
        el("Span", { className: "gw-rk-num" }, pct(r.ontime_month)),
        el("Span", { className: "gw-rk-num gw-rk-wide" }, r.median_h === null ? "—" : fmt(r.median_h, 1) + tr("h")),
      ]);
    });
    var worst = null;
    data.rows.forEach(function (r, i) { if (r.mark === "worst" && i > 4) { worst = rows[i]; } });
    var pinned = worst ? el("Div", { className: "gw-rk-pinned" }, Object.assign({}, worst, { props: Object.assign({}, worst.props, { id: "gw-rk-pin", key: "pin" }) })) : null;
    setProps("gw-ranking", { children: [head, el("Div", { className: "gw-rk-body" }, rows), pinned] });
  }

  /* Long panels scroll by themselves, one step every few seconds, back to the top at the end. */
  function autoScroll() {
    ["gw-overdue", "gw-ranking"].forEach(function (id) {
      var box = document.getElementById(id);
      if (!box) { return; }
      var body = id === "gw-ranking" ? box.querySelector(".gw-rk-body") : box;
      if (!body || body.scrollHeight <= body.clientHeight + 4) { return; }
      if (body.matches(":hover")) { return; }
      var next = body.scrollTop + body.clientHeight * 0.5;
      body.scrollTo({ top: next >= body.scrollHeight - body.clientHeight + 2 ? 0 : next, behavior: "smooth" });
    });
  }

  on("case_kpi", applyKpi);
  on("case_overdue", function (o) { C.overdue = o; renderOverdue(); });
  on("case_ranking", function (r) { C.ranking = r; renderRanking(); });
  on("case_map", applySnapshot);
  on("cases", function (msg) {
    (msg.events || []).forEach(function (ev) {
      if (ev.m) { upsert(ev.m); }
      if (ev.row) { addOverdue(ev.row); }
    });
  });

  function watchMaps() {
    document.addEventListener("gw-map", function (e) {
      var id = e.detail.id || "";
      if (id.indexOf("wall-map") !== 0) { return; }
      var map = e.detail.map;
      map.whenReady(function () { setTimeout(function () { makeView(id, map); }, 0); });
    });
  }
  watchMaps();
  setInterval(function () { // "how late" keeps counting; highlights fade
    renderOverdue();
    if (C.rankingLater) { renderRanking(); }
  }, 1000);
  setInterval(function () { for (var v in C.views) { for (var id in C.data) { drawIn(C.views[v], id, C.data[id]); } } }, 15000);
  setInterval(autoScroll, 4000);
})();
