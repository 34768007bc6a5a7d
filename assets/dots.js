/* A Leaflet layer drawing thousands of status-coloured dots (and short trails) on one canvas.
 * One pass per animation frame, positions kept in Web Mercator at zoom 0, so a push that moves
 * 20,000 workers costs one redraw, not 20,000 DOM or vector updates. */
(function () {
  "use strict";
  var gw = (window.gw = window.gw || {});
  var R = 6378137, MAXLAT = 85.0511287798;

  /* Project lat/lon to EPSG:3857 pixels at zoom 0 (256 px world), like L.CRS.EPSG3857. */
  gw.project0 = function (lat, lon) {
    var la = Math.max(Math.min(lat, MAXLAT), -MAXLAT) * Math.PI / 180;
    var x = R * lon * Math.PI / 180, y = R * Math.log(Math.tan(Math.PI / 4 + la / 2));
    var s = 0.5 / (Math.PI * R);
    return [256 * (s * x + 0.5), 256 * (-s * y + 0.5)];
  };

  gw.makeDotsLayer = function (opts) {
    var L = window.L;
    var Dots = L.Layer.extend({
      initialize: function (o) {
        this.o = o; // {points: () => iterable of {x0,y0,color,big}, trails: () => [[x0,y0]...]}
        this._frame = null;
      },
      onAdd: function (map) {
        this._map = map;
        this._canvas = L.DomUtil.create("canvas", "gw-dots");
        this._canvas.style.position = "absolute";
        this._canvas.style.pointerEvents = "none";
        map.getPane(this.o.pane || "overlayPane").appendChild(this._canvas);
        map.on("moveend zoomend resize viewreset", this._reset, this);
        map.on("zoomstart", this._hide, this);
        map.on("mousemove", this._hover, this);
        map.on("click", this._click, this);
        this._reset();
      },
      onRemove: function (map) {
        L.DomUtil.remove(this._canvas);
        map.off("moveend zoomend resize viewreset", this._reset, this);
        map.off("zoomstart", this._hide, this);
        map.off("mousemove", this._hover, this);
        map.off("click", this._click, this);
        if (this._frame) { L.Util.cancelAnimFrame(this._frame); }
      },
      _hide: function () { this._canvas.style.visibility = "hidden"; },
      _reset: function () {
        var map = this._map, size = map.getSize(), dpr = window.devicePixelRatio || 1;
        L.DomUtil.setPosition(this._canvas, map.containerPointToLayerPoint([0, 0]));
        this._canvas.width = size.x * dpr;
        this._canvas.height = size.y * dpr;
        this._canvas.style.width = size.x + "px";
        this._canvas.style.height = size.y + "px";
        this._canvas.style.visibility = "visible";
        this.redrawNow();
      },
      redraw: function () {
        if (!this._map || this._frame) { return; }
        this._frame = L.Util.requestAnimFrame(function () { this._frame = null; this.redrawNow(); }, this);
      },
      _transform: function () {
        var map = this._map, zoom = map.getZoom(), scale = Math.pow(2, zoom);
        var origin = map.getPixelOrigin(), pane = map._getMapPanePos();
        var topLeft = map.containerPointToLayerPoint([0, 0]);
        return { s: scale, dx: -origin.x + pane.x, dy: -origin.y + pane.y, tl: topLeft };
      },
      redrawNow: function () {
        if (!this._map) { return; }
        var ctx = this._canvas.getContext("2d"), dpr = window.devicePixelRatio || 1;
        var t = this._transform(), w = this._canvas.width / dpr, h = this._canvas.height / dpr;
        ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
        ctx.clearRect(0, 0, w, h);
        var trails = this.o.trails ? this.o.trails(this._map.getZoom()) : [];
        ctx.lineWidth = 2.5; ctx.strokeStyle = "rgba(34,197,94,0.55)"; ctx.lineJoin = "round";
        ctx.beginPath();
        for (var i = 0; i < trails.length; i++) {
          var tr = trails[i];
          for (var j = 0; j < tr.length; j++) {
            var tx = tr[j][0] * t.s + t.dx, ty = tr[j][1] * t.s + t.dy;
            if (j === 0) { ctx.moveTo(tx, ty); } else { ctx.lineTo(tx, ty); }
          }
        }
        ctx.stroke();
        var byColor = {}, pts = this.o.points(), n = 0;
        var r = this._map.getZoom() >= 14 ? 7 : (this._map.getZoom() >= 12 ? 5 : 3);
        this._screen = [];
        for (var k = 0; k < pts.length; k++) {
          var p = pts[k], x = p.x0 * t.s + t.dx, y = p.y0 * t.s + t.dy;
          if (x < -10 || y < -10 || x > w + 10 || y > h + 10) { continue; }
          (byColor[p.color] = byColor[p.color] || []).push(x, y, p.big ? r + 1 : r);
          this._screen.push(x, y, k);
          n++;
        }
        ctx.strokeStyle = "#0b1220"; ctx.lineWidth = 1.5;
        for (var c in byColor) {
          var a = byColor[c];
          ctx.fillStyle = c;
          ctx.beginPath();
          for (var m = 0; m < a.length; m += 3) {
            ctx.moveTo(a[m] + a[m + 2], a[m + 1]);
            ctx.arc(a[m], a[m + 1], a[m + 2], 0, 2 * Math.PI);
          }
          ctx.fill();
          if (r > 3) { ctx.stroke(); }
        }
        this.drawn = n;
        this._pts = pts;
      },
      _nearest: function (cp) {
        var best = -1, bd = 144, s = this._screen || [];
        for (var i = 0; i < s.length; i += 3) {
          var dx = s[i] - cp.x, dy = s[i + 1] - cp.y, d = dx * dx + dy * dy;
          if (d < bd) { bd = d; best = s[i + 2]; }
        }
        return best < 0 ? null : this._pts[best];
      },
      _hover: function (e) {
        var p = this._nearest(e.containerPoint);
        if (!p) { if (this._tip) { this._map.closeTooltip(this._tip); this._tip = null; } return; }
        if (!this._tip) { this._tip = L.tooltip({ direction: "top", offset: [0, -8] }); }
        this._tip.setLatLng([p.lat, p.lon]).setContent(gw.escapeText(this.o.label(p)));
        this._map.openTooltip(this._tip);
      },
      _click: function (e) {
        var p = this._nearest(e.containerPoint);
        if (p && this.o.onClick) { this.o.onClick(p); }
      },
    });
    return new Dots(opts);
  };

  gw.escapeText = function (s) {
    var d = document.createElement("div");
    d.textContent = String(s);
    return d.innerHTML;
  };
})();
