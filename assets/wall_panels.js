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
  /* A pushed word (street, stream, rejection reason) in the page's language (cfg.terms). */
  function term(cfg, w) {
    var m = cfg && cfg.terms;
    return m && Object.prototype.hasOwnProperty.call(m, w) ? String(m[w]) : w;
  }
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
              el("Span", { className: "gw-row-name" }, term(cfg, r.name)),
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
                        term(cfg, stream) + " · " + term(cfg, kv[0])),
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
