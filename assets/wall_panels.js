/* Clientside renderers of pushed panel data into Dash components (text only, never HTML). */
(function () {
  "use strict";
  function el(type, props, children) {
    var p = Object.assign({}, props || {});
    if (children !== undefined) { p.children = children; }
    return { type: type, namespace: "dash_html_components", props: p };
  }
  function t(k) { return window.gw && window.gw.tr ? window.gw.tr(k) : k; }
  function fmt(n, d) { return window.gw && window.gw.fmt ? window.gw.fmt(n, d) : String(n); }
  /* A pushed word (street, department, item, stream, rejection reason) in the page's language:
   * the wall's name table (data-terms of .gw-wall, layouts/wall.py _terms); cases.js uses it too. */
  var gw = (window.gw = window.gw || {});
  var terms = { root: null, map: {} };
  function term(w) {
    var root = document.querySelector(".gw-wall[data-terms]");
    if (root !== terms.root) {
      terms.root = root;
      try { terms.map = JSON.parse((root && root.getAttribute("data-terms")) || "{}") || {}; }
      catch (e) { terms.map = {}; }
    }
    return Object.prototype.hasOwnProperty.call(terms.map, w) ? String(terms.map[w]) : w;
  }
  gw.term = term;
  /* Whether the wall (and so its name table) is on the page yet. */
  gw.termsReady = function () { return !!document.querySelector(".gw-wall[data-terms]"); };
  function empty() { return el("Div", { className: "gw-empty" }, t("noData")); }
  function bar(share, cls) {
    return el("Div", { className: "gw-bar" },
      el("Div", { className: "gw-bar-fill " + (cls || ""), style: { width: Math.round(share * 100) + "%" } }));
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    gw: Object.assign({}, (window.dash_clientside || {}).gw, {
      streets: function (rows, cfg) {
        if (!rows || !rows.length) { return empty(); }
        return el("Div", { className: "gw-rows" }, rows.map(function (r) {
          var share = r.total ? r.online / r.total : 0;
          return el("Div", { className: "gw-row", key: r.code, id: "gw-st-" + r.code }, [
            el("Div", { className: "gw-row-head" }, [
              el("Span", { className: "gw-row-name" }, term(r.name)),
              el("Span", { className: "gw-row-num" }, fmt(r.online) + " / " + fmt(r.total)),
            ]),
            bar(share, ""),
            el("Div", { className: "gw-row-sub" }, [
              el("Span", { className: "gw-chip gw-chip-green" }, t("patrolling") + " " + fmt(r.patrolling)),
              el("Span", { className: "gw-chip gw-chip-amber" }, t("outside") + " " + fmt(r.outside)),
            ]),
          ]);
        }));
      },
      rejections: function (data, cfg) {
        var rows = [];
        if (data) {
          Object.keys(data).forEach(function (stream) {
            (data[stream] || []).slice(0, 6).forEach(function (kv) {
              rows.push(el("Div", { className: "gw-reason", key: stream + kv[0] }, [
                el("Span", { className: "gw-reason-name" },
                        term(stream) + " · " + term(kv[0])),
                el("Span", { className: "gw-reason-num" }, fmt(kv[1])),
              ]));
            });
          });
        }
        return rows.length ? el("Div", {}, rows) : empty();
      },
    }),
  });
})();
