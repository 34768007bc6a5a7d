/* Exchange page client: socket.io events (xc_*) -> Dash stores and the curve's figure; clientside
 * renderers of rankings and alerts.  Nothing polls; text only, never HTML from data. */
(function () {
  "use strict";
  var gw = (window.gw = window.gw || {});
  gw.handlers = gw.handlers || {};
  function on(event, fn) { (gw.handlers[event] = gw.handlers[event] || []).push(fn); }
  function onPage() { return !!document.querySelector(".xc-page"); }
  function setProps(id, props) {
    if (onPage() && window.dash_clientside && window.dash_clientside.set_props) {
      window.dash_clientside.set_props(id, props);
    }
  }
  var TEXT = {
    zh: { noData: "暂无数据", today: "今日", errRate: "失败率", p95: "P95耗时", ms: "ms",
          iface: "接口类型", total: "累计调用", todayCalls: "今日调用", todayErr: "今日失败率",
          todayP95: "今日P95",
          made: "调用数据", served: "提供数据", violationsToday: "今日违规", errorAlerts: "失败率告警",
          allClear: "运行正常 · 暂无告警", window: "近{m}分钟", calls: "次" },
    en: { noData: "No data yet", today: "Today", errRate: "Errors", p95: "p95", ms: "ms",
          iface: "Interface", total: "Calls in total", todayCalls: "Today", todayErr: "Errors",
          todayP95: "p95",
          made: "Calls made", served: "Calls served", violationsToday: "Violations today",
          errorAlerts: "Error-rate alerts", allClear: "All clear", window: "last {m} min",
          calls: "" },
  };
  function lang() {
    var page = document.querySelector(".xc-page");
    return page && page.getAttribute("data-lang") === "en" ? "en" : "zh";
  }
  function tr(k) { return TEXT[lang()][k] || k; }
  /* Pushes carry names in UI_LANG; the page (data-terms) maps them to its own language. */
  var terms = { page: null, map: {} };
  function term(w) {
    var page = document.querySelector(".xc-page");
    if (page !== terms.page) {
      terms.page = page;
      try { terms.map = JSON.parse((page && page.getAttribute("data-terms")) || "{}"); }
      catch (e) { terms.map = {}; }
    }
    return Object.prototype.hasOwnProperty.call(terms.map, w) ? String(terms.map[w]) : w;
  }
  function fmt(n, d) {
    if (n === null || n === undefined || isNaN(n)) { return "—"; }
    return Number(n).toLocaleString(lang() === "en" ? "en-US" : "zh-CN",
      { maximumFractionDigits: d || 0, minimumFractionDigits: d || 0 });
  }
  function pct(x) { return x === null || x === undefined ? "—" : fmt(100 * x, 1) + "%"; }
  function clock(ts) {
    return new Date(ts * 1000).toLocaleTimeString("zh-CN",
      { timeZone: "Asia/Shanghai", hour12: false, hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }
  function el(type, props, children) {
    var p = Object.assign({}, props || {});
    if (children !== undefined) { p.children = children; }
    return { type: type, namespace: "dash_html_components", props: p };
  }
  function empty() { return el("Div", { className: "gw-empty" }, tr("noData")); }
  function bar(share, cls) {
    return el("Div", { className: "xc-bar" }, el("Div", { className: "xc-bar-fill " + cls,
      style: { width: Math.max(0, Math.min(100, share * 100)).toFixed(1) + "%" } }));
  }
  function badge(i) { return el("Span", { className: "xc-badge xc-badge-" + Math.min(i, 4) }, String(i)); }

  on("xc_kpi", function (m) { setProps("xc-kpi-store", { data: m }); });
  on("xc_rank", function (m) { setProps("xc-rank-store", { data: m }); });
  on("xc_alerts", function (m) { setProps("xc-alerts-store", { data: m }); });
  on("xc_curve", function (fig) {
    if (!onPage()) { return; }
    setProps("xc-curve", { figure: Object.assign({}, fig, { data: fig.data.map(function (d) {
      return Object.assign({}, d, { name: term(d.name) });
    }) }) });
    gw.lastCurve = { at: Date.now(), sum: fig.data[0].y.reduce(function (a, b) { return a + b; }, 0) };
  });

  /* The header's connection badge: follow the shared socket (wall.js owns it). */
  var shownConn = null;
  setInterval(function () {
    if (!onPage() || !gw.socket) { return; }
    var ok = !!gw.socket.connected;
    if (ok === shownConn) { return; }
    shownConn = ok;
    setProps("gw-conn", { children: ok ? (lang() === "en" ? "live" : "实时") :
                                     (lang() === "en" ? "reconnecting…" : "重连中…"),
                          className: "gw-conn " + (ok ? "gw-conn-ok" : "gw-conn-wait") });
    document.body.classList.toggle("gw-offline", !ok);
  }, 1000);

  var MAX_ALERT_ROWS = 7;  // what the panel shows at 1920x1080 without a clipped row

  /* A new violation makes the alert panel flash for a few seconds. */
  var lastViolation = null;
  function flash(newest) {
    if (newest && lastViolation !== null && newest !== lastViolation) {
      var panel = document.getElementById("xc-alerts-panel");
      if (panel) {
        panel.classList.remove("xc-flash");
        void panel.offsetWidth;  // restart the animation
        panel.classList.add("xc-flash");
      }
    }
    lastViolation = newest || lastViolation || "";
  }

  function unitRows(rows, cls) {
    if (!rows || !rows.length) { return empty(); }
    var top = rows[0].calls || 1;
    return el("Div", { className: "xc-units-list" }, rows.map(function (r, i) {
      return el("Div", { className: "xc-unit-row", key: r.unit }, [
        badge(i + 1),
        el("Span", { className: "xc-rank-name" }, term(r.name)),
        el("Span", { className: "xc-unit-num" }, fmt(r.calls)),
        bar(r.calls / top, cls),
      ]);
    }));
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    xc: {
      kpis: function (k) {
        if (!k) { return ["—", "—", "—", "—", "—", "—"]; }
        return [fmt(k.catalogs), fmt(k.items), fmt(k.interfaces), fmt(k.units),
                fmt(k.calls_today), fmt(k.calls_total)];
      },
      interfaces: function (data) {
        var rows = data && data.interfaces;
        if (!rows || !rows.length) { return empty(); }
        var top = rows[0].calls || 1;
        var head = el("Div", { className: "xc-iface xc-iface-head" }, [
          el("Span", {}, ""), el("Span", {}, tr("iface")), el("Span", {}, tr("total")),
          el("Span", { className: "xc-num" }, tr("todayCalls")),
          el("Span", { className: "xc-num" }, tr("todayErr")),
          el("Span", { className: "xc-num" }, tr("todayP95")),
        ]);
        return el("Div", { className: "xc-ifaces" }, [head].concat(rows.map(function (r, i) {
          var bad = r.error_rate !== null && r.error_rate >= 0.05;
          return el("Div", { className: "xc-iface", key: r.code, "data-code": r.code }, [
            badge(i + 1),
            el("Span", { className: "xc-iface-name" }, term(r.name)),
            el("Div", { className: "xc-iface-total" }, [
              bar(r.calls / top, i === 0 ? "xc-fill-top" : "xc-fill-iface"),
              el("Span", { className: "xc-iface-num" }, fmt(r.calls))]),
            el("Span", { className: "xc-num xc-iface-today" }, fmt(r.today)),
            el("Span", { className: "xc-num" + (bad ? " xc-bad" : "") }, pct(r.error_rate)),
            el("Span", { className: "xc-num xc-muted" }, r.p95_ms === null ? "—" : fmt(r.p95_ms) + tr("ms")),
          ]);
        })));
      },
      units: function (data) {
        if (!data) { return empty(); }
        return el("Div", { className: "xc-units" }, [
          el("Div", { className: "xc-units-col" }, [
            el("H3", { className: "xc-sub-title" }, tr("made")), unitRows(data.made, "xc-fill-made")]),
          el("Div", { className: "xc-units-col" }, [
            el("H3", { className: "xc-sub-title" }, tr("served")), unitRows(data.served, "xc-fill-served")]),
        ]);
      },
      alerts: function (data) {
        if (!data) { return empty(); }
        var v = data.violations || [];
        flash(v.length ? v[0].id : "");
        var errors = data.errors || [];
        var head = el("Div", { className: "xc-alert-head" }, [
          el("Div", { className: "xc-alert-count" + (data.violations_today ? " xc-red" : "") }, [
            el("B", {}, fmt(data.violations_today)), el("Span", {}, tr("violationsToday"))]),
          el("Div", { className: "xc-alert-count" + (errors.length ? " xc-amber" : "") }, [
            el("B", {}, fmt(errors.length)), el("Span", {}, tr("errorAlerts"))]),
        ]);
        var rows = errors.map(function (a) {
          return el("Div", { className: "xc-alert xc-alert-error", key: "e" + a.interface }, [
            el("Span", { className: "xc-alert-kind" }, tr("errRate") + " " + pct(a.rate)),
            el("Span", { className: "xc-alert-what" }, term(a.name)),
            el("Span", { className: "xc-alert-time" },
               tr("window").replace("{m}", Math.round(data.window_s / 60))),
          ]);
        }).concat(v.slice(0, Math.max(0, MAX_ALERT_ROWS - errors.length)).map(function (x) {
          return el("Div", { className: "xc-alert xc-alert-violation", key: x.id }, [
            el("Span", { className: "xc-alert-kind" }, term(x.kind_name)),
            el("Span", { className: "xc-alert-what" }, term(x.caller_name) + " → " + x.catalog_name),
            el("Span", { className: "xc-alert-time" }, x.when || clock(x.time)),
          ]);
        }));
        if (!rows.length) { rows = [el("Div", { className: "xc-all-clear" }, tr("allClear"))]; }
        return el("Div", { className: "xc-alerts" }, [head, el("Div", { className: "xc-alert-list" }, rows)]);
      },
    },
  });
})();
