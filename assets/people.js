/* People page (/people) client: socket.io events (pp_*) -> Dash stores, and the clientside
 * renderers of points, assessment, service tasks and anomalies.  Nothing polls; text only. */
(function () {
  "use strict";
  var gw = (window.gw = window.gw || {});
  gw.handlers = gw.handlers || {};
  function on(event, fn) { (gw.handlers[event] = gw.handlers[event] || []).push(fn); }
  function onPage() { return !!document.querySelector(".pp-page"); }
  function setProps(id, props) {
    if (onPage() && window.dash_clientside && window.dash_clientside.set_props) {
      try { window.dash_clientside.set_props(id, props); } catch (e) { /* not rendered yet */ }
    }
  }
  function lang() {
    var page = document.querySelector(".pp-page");
    return page && page.getAttribute("data-lang") === "en" ? "en" : "zh";
  }
  function fmt(n, d) {
    if (n === null || n === undefined || isNaN(n)) { return "—"; }
    return Number(n).toLocaleString(lang() === "en" ? "en-US" : "zh-CN",
      { maximumFractionDigits: d || 0, minimumFractionDigits: d || 0 });
  }
  function hhmm(ts) {
    return new Date(ts * 1000).toLocaleTimeString("zh-CN",
      { timeZone: "Asia/Shanghai", hour12: false, hour: "2-digit", minute: "2-digit" });
  }
  function el(type, props, children) {
    var p = Object.assign({}, props || {});
    if (children !== undefined) { p.children = children; }
    return { type: type, namespace: "dash_html_components", props: p };
  }
  function tx(text, k) {
    return text && Object.prototype.hasOwnProperty.call(text, k) ? String(text[k]) : k;
  }
  function ruleName(r) { return lang() === "en" && r.name_en ? r.name_en : r.name; }
  function empty(text) { return el("Div", { className: "gw-empty" }, tx(text, "no_data")); }
  function badge(i) { return el("Span", { className: "pp-badge pp-badge-" + Math.min(i, 4) }, String(i)); }
  function bar(share, cls) {
    return el("Div", { className: "pp-bar" }, el("Div", { className: "pp-bar-fill " + (cls || ""),
      style: { width: Math.max(0, Math.min(100, share * 100)).toFixed(1) + "%" } }));
  }
  function scoreClass(s) { return s >= 80 ? "pp-good" : s >= 60 ? "pp-fair" : "pp-poor"; }

  /* Keep the newest payload of each panel: the relay's cached push a new client gets may be
   * older than the data the page was rendered with ("_t": when it was computed). */
  var newest = {}, seedT = null;
  function store(id) {
    return function (m) {
      if (!m || !onPage()) { return; }
      var seed = document.getElementById("pp-seed");
      var t0 = seed ? parseFloat(seed.getAttribute("data-t")) || 0 : 0;
      if (t0 !== seedT) { seedT = t0; newest = {}; }  // a freshly rendered page
      var floor = newest[id] === undefined ? t0 : newest[id];
      if ((m._t || 0) < floor) { return; }
      newest[id] = m._t || 0;
      setProps(id, { data: m });
    };
  }
  on("pp_kpi", store("pp-kpi-store"));
  on("pp_points", store("pp-points-store"));
  on("pp_assess", store("pp-assess-store"));
  on("pp_anomalies", store("pp-anomalies-store"));
  on("pp_tasks", store("pp-tasks-store"));
  /* A new anomaly makes its panel flash (the list itself follows with pp_anomalies). */
  on("people", function (m) {
    if (!onPage() || !m || m.ev !== "anomalies") { return; }
    var panel = document.getElementById("pp-anomalies-panel");
    if (panel) {
      panel.classList.remove("pp-flash");
      void panel.offsetWidth;
      panel.classList.add("pp-flash");
    }
  });

  /* The header's connection badge follows the shared socket (wall.js owns it). */
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

  function assessRows(rows, text, required) {
    if (!rows || !rows.length) { return empty(text); }
    return el("Div", { className: "pp-assess-list" }, rows.map(function (r) {
      return el("Div", { className: "pp-assess-row", key: r.worker, "data-worker": r.worker }, [
        badge(r.rank),
        el("Div", { className: "pp-who" }, [
          el("Span", { className: "pp-name" }, r.name),
          el("Span", { className: "pp-sub" }, r.grid_name)]),
        el("Span", { className: "pp-patrols" + (r.patrols >= required ? " pp-good" : "") },
           (r.patrols === null || r.patrols === undefined ? "—" : r.patrols) + "/" + required),
        el("Span", { className: "pp-score " + scoreClass(r.score) }, fmt(r.score, 1)),
      ]);
    }));
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    pp: {
      kpis: function (k) {
        if (!k) { return ["—", "—", "—", "—", "—", "—"]; }
        return [fmt(k.pushed), fmt(k.done), fmt(k.overdue),
                k.double_patrol === null || k.double_patrol === undefined ? "—" :
                  fmt(k.double_patrol) + " / " + fmt(k.workers),
                k.mean_score === null || k.mean_score === undefined ? "—" : fmt(k.mean_score, 1),
                fmt(k.anomalies)];
      },
      points: function (data, text) {
        var rows = data && data.rows;
        if (!rows || !rows.length) { return empty(text); }
        var top = rows[0].points || 1;
        return el("Div", { className: "pp-points-list" }, rows.map(function (r) {
          return el("Div", { className: "pp-points-row", key: r.member, "data-member": r.member }, [
            badge(r.rank),
            el("Div", { className: "pp-who" }, [
              el("Span", { className: "pp-name" }, r.name),
              el("Span", { className: "pp-sub" }, (r.station_name || "") + " · " +
                 tx(text, r.kind === "resident" ? "pp_resident" : "pp_worker"))]),
            el("Div", { className: "pp-points-bar" }, bar(r.points / top, "pp-fill-points")),
            el("Span", { className: "pp-points-num" }, [
              fmt(r.points), el("Small", {}, tx(text, "pp_points"))]),
          ]);
        }));
      },
      pointsByRule: function (data, text) {
        var rows = data && data.by_rule;
        if (!rows || !rows.length) { return empty(text); }
        var top = Math.max.apply(null, rows.map(function (r) { return r.points; })) || 1;
        return el("Div", { className: "pp-by-rule" }, rows.map(function (r) {
          return el("Div", { className: "pp-by-rule-row", key: r.rule }, [
            el("Span", { className: "pp-by-rule-name" }, ruleName(r)),
            bar(r.points / top, "pp-fill-points"),
            el("Span", { className: "pp-num" }, fmt(r.points))]);
        }));
      },
      assess: function (data, text) {
        if (!data || !data.streets || !data.streets.length) { return empty(text); }
        var need = data.required || 2;
        return el("Div", { className: "pp-streets" }, data.streets.map(function (s) {
          var name = (text && text["street_" + s.code]) || s.name;
          var parts = [el("H3", { className: "pp-sub-title" }, name), assessRows(s.rows, text, need)];
          if (s.lowest && s.lowest.length) {
            parts.push(el("H3", { className: "pp-sub-title pp-low-title" }, tx(text, "pp_lowest")));
            parts.push(assessRows(s.lowest, text, need));
          }
          return el("Div", { className: "pp-street", key: s.code }, parts);
        }));
      },
      stations: function (data, text) {
        var rows = data && data.stations;
        if (!rows || !rows.length) { return empty(text); }
        return el("Div", { className: "pp-stations" }, rows.map(function (r, i) {
          return el("Div", { className: "pp-station-row", key: r.code }, [
            badge(i + 1),
            el("Span", { className: "pp-station-name" }, r.name),
            bar(r.score / 100, "pp-fill-score"),
            el("Span", { className: "pp-score " + scoreClass(r.score) }, fmt(r.score, 1)),
          ]);
        }));
      },
      tasks: function (data, text) {
        var rows = data && data.rules;
        if (!rows || !rows.length) { return empty(text); }
        var head = el("Div", { className: "pp-task-row pp-task-head" }, [
          el("Span", {}, tx(text, "pp_col_rule")), el("Span", {}, tx(text, "pp_col_pushed")),
          el("Span", {}, tx(text, "pp_col_done")), el("Span", {}, tx(text, "pp_col_overdue")),
          el("Span", {}, tx(text, "pp_col_open"))]);
        var body = rows.map(function (r) {
          return el("Div", { className: "pp-task-row", key: r.rule, "data-rule": r.rule }, [
            el("Span", { className: "pp-task-name" }, ruleName(r)),
            el("Span", { className: "pp-num pp-pushed" }, fmt(r.pushed)),
            el("Span", { className: "pp-num pp-done" }, fmt(r.done)),
            el("Span", { className: "pp-num" + (r.overdue ? " pp-overdue" : "") }, fmt(r.overdue)),
            el("Span", { className: "pp-num pp-open" }, fmt(r.open)),
          ]);
        });
        return el("Div", { className: "pp-tasks" }, [head].concat(body));
      },
      anomalies: function (data, text) {
        if (!data) { return empty(text); }
        var kinds = ["no_patrol", "outside", "still", "impossible"];
        var chips = el("Div", { className: "pp-kinds" }, kinds.map(function (k) {
          var n = (data.counts && data.counts[k]) || 0;
          return el("Div", { className: "pp-kind pp-kind-" + k + (n ? " pp-hot" : ""), key: k }, [
            el("B", {}, fmt(n)), el("Span", {}, tx(text, "anomaly_" + k))]);
        }));
        var items = (data.items || []).map(function (a) {
          var d = a.detail || {};
          var what = a.kind === "no_patrol" ? (d.done + "/" + d.required + tx(text, "pp_times")) :
                     a.kind === "impossible" ? (fmt(d.metres) + "m") :
                     (fmt(d.minutes) + tx(text, "pp_minutes"));
          return el("Div", { className: "pp-alert pp-alert-" + a.kind, key: a.id }, [
            el("Span", { className: "pp-alert-time" }, hhmm(a.at)),
            el("Span", { className: "pp-alert-who" }, a.name + " · " + (a.grid_name || "")),
            el("Span", { className: "pp-alert-kind" }, tx(text, "anomaly_" + a.kind)),
            el("Span", { className: "pp-alert-what" }, what),
          ]);
        });
        if (!items.length) { items = [empty(text)]; }
        return el("Div", { className: "pp-anomalies" }, [chips,
          el("Div", { className: "pp-alert-list" }, items)]);
      },
    },
  });
})();
