/* The kiosk wall: a playlist of wall pages rotated on an interval (like a Grafana playlist) or
 * one pinned page, 4K scaling (?scale=2) and 3x3 video walls (?tile=r,c&of=3x3: each screen
 * shows its ninth of one canvas), and self-recovery: after a server or Redis restart or a
 * network drop it reloads only once the server answers again, so a browser error page is
 * never shown.  Query: ?playlist=/,/exchange,/people&interval=60, ?pin=/exchange, ?kiosk=1.
 * A wall-token session is a kiosk by default (KIOSK_PLAYLIST, KIOSK_INTERVAL_S). */
(function () {
  "use strict";
  var gw = (window.gw = window.gw || {});
  var K = (gw.kiosk = { active: false });
  var root = document.documentElement;
  var q = new URLSearchParams(window.location.search);
  var here = window.location.pathname.replace(/\/+$/, "") || "/";
  var WALL = ["/", "/exchange", "/people"];
  var RELOAD_EVERY_MS = 6 * 3600 * 1000; // a fresh page now and then: no slow leak over weeks

  function num(v, d) { var n = Number(v); return isFinite(n) && n > 0 ? n : d; }
  var playlist = (q.get("playlist") || root.getAttribute("data-playlist") || "").split(",")
    .map(function (p) { return p.trim(); }).filter(function (p) { return WALL.indexOf(p) >= 0; });
  var interval = num(q.get("interval"), num(root.getAttribute("data-interval"), 60));
  var pin = q.get("pin");
  K.active = WALL.indexOf(here) >= 0 && (root.getAttribute("data-role") === "wall" ||
    q.has("kiosk") || q.has("playlist") || q.has("pin") || q.has("tile"));
  if (!K.active) { return; }
  root.classList.add("gw-kiosk");

  /* ---- scale and tiling ------------------------------------------------------------------- */
  var scale = num(q.get("scale"), 0);
  var of = /^(\d+)x(\d+)$/.exec(q.get("of") || ""), tile = /^(\d+),(\d+)$/.exec(q.get("tile") || "");
  function layoutScreen() {
    if (of && tile) {
      var cols = Number(of[1]), rows = Number(of[2]), r = Number(tile[1]), c = Number(tile[2]);
      var w = window.innerWidth, h = window.innerHeight;
      root.classList.add("gw-tiled");
      root.style.setProperty("--gw-cw", cols * w + "px");
      root.style.setProperty("--gw-ch", rows * h + "px");
      root.style.setProperty("--gw-x", -c * w + "px");
      root.style.setProperty("--gw-y", -r * h + "px");
      root.style.fontSize = 16 * Math.min(cols, rows) * (scale || 1) * (w / 1920) + "px";
    } else if (scale) {
      root.style.fontSize = 16 * scale + "px";
    }
  }
  layoutScreen();
  window.addEventListener("resize", layoutScreen);

  /* ---- navigation only when the server answers ---------------------------------------------- */
  function keep(path) {
    var u = new URL(window.location.href);
    u.pathname = path;
    return u.pathname + u.search;
  }
  K.navigating = false;
  function safeGo(url, tries) {
    if (K.navigating) { return; }
    K.navigating = true;
    fetch("/api/v1/health", { cache: "no-store" }).then(function (r) {
      if (!r.ok) { throw new Error("not ready: " + r.status); }
      window.location.assign(url);
    }).catch(function () {
      K.navigating = false;
      var wait = Math.min(30000, 1000 * Math.pow(2, tries || 0));
      setTimeout(function () { safeGo(url, (tries || 0) + 1); }, wait);
    });
  }
  K.go = safeGo;

  if (pin && WALL.indexOf(pin) >= 0) {
    if (pin !== here) { safeGo(keep(pin)); }
  } else if (playlist.length > 1) {
    var next = playlist[(playlist.indexOf(here) + 1) % playlist.length];
    K.next = next;
    setTimeout(function () { safeGo(keep(next)); }, interval * 1000);
  }
  setTimeout(function () { safeGo(keep(here)); }, RELOAD_EVERY_MS);

  /* ---- recovery: socket.io reconnects by itself; a rejected or long-lost one reloads ------ */
  var downSince = 0;
  function watchSocket() {
    var s = gw.socket;
    if (!s) { return setTimeout(watchSocket, 200); }
    s.on("connect", function () { downSince = 0; document.body.classList.remove("gw-stale"); });
    s.on("disconnect", function () { downSince = downSince || Date.now(); });
    s.on("connect_error", function (err) {
      downSince = downSince || Date.now();
      /* The server said no (session lost with a Redis flush, token revoked): a reload
       * re-opens the session from the token in the URL. */
      if (err && /rejected/i.test(String(err.message))) { safeGo(window.location.pathname + window.location.search); }
    });
  }
  watchSocket();
  setInterval(function () {
    if (downSince && Date.now() - downSince > 60000) {
      document.body.classList.add("gw-stale");
      safeGo(window.location.pathname + window.location.search);
    }
  }, 5000);
  /* Corrected grid boundaries: redraw the basemap with a fresh page. */
  gw.handlers = gw.handlers || {};
  (gw.handlers.grids = gw.handlers.grids || []).push(function () {
    setTimeout(function () { safeGo(window.location.pathname + window.location.search); }, 3000);
  });
})();
