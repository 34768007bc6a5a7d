/* Every state-changing request a page makes carries the session's CSRF token (double submit:
 * the gw_csrf cookie, echoed in the X-CSRF-Token header the server compares with the session).
 * Dash callback requests that fail on the network or with 5xx are retried with backoff, so a
 * server restart never leaves a panel broken; 401 (session gone) goes to the login (a kiosk
 * reloads its token URL); 403 of a page's content reloads to show the server's refusal. */
(function () {
  "use strict";
  var gw = (window.gw = window.gw || {});
  function cookie(name) {
    var m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : "";
  }
  function sameOrigin(url) {
    try { return new URL(url, window.location.href).origin === window.location.origin; }
    catch (e) { return false; }
  }
  function unsafe(method) { return !/^(GET|HEAD|OPTIONS)$/i.test(method || "GET"); }
  gw.csrfToken = function () { return cookie("gw_csrf"); };

  function onDenied(status, body) {
    if (status === 401) {
      if (/[?&]wall=/.test(window.location.search)) { window.location.reload(); return; }
      window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname + window.location.search));
    } else if (status === 403 && body && body.indexOf("_pages_content") >= 0) {
      window.location.reload();
    }
  }

  var nativeFetch = window.fetch.bind(window);
  window.fetch = function (input, init) {
    var url = typeof input === "string" ? input : (input && input.url) || "";
    var opts = Object.assign({}, init || {});
    var method = opts.method || (input && input.method) || "GET";
    if (!sameOrigin(url) || !unsafe(method)) { return nativeFetch(input, init); }
    var headers = new Headers(opts.headers || (input && input.headers) || {});
    headers.set("X-CSRF-Token", cookie("gw_csrf"));
    opts.headers = headers;
    var isCallback = url.indexOf("_dash-update-component") >= 0;
    if (!isCallback) { return nativeFetch(input, opts); }
    var body = typeof opts.body === "string" ? opts.body : "";
    var delays = [500, 1000, 2000, 4000, 8000];
    function attempt(n) {
      headers.set("X-CSRF-Token", cookie("gw_csrf"));
      return nativeFetch(input, opts).then(function (resp) {
        if (resp.status === 401 || resp.status === 403) { onDenied(resp.status, body); return resp; }
        if (resp.status >= 500 && n < delays.length) {
          return new Promise(function (ok) { setTimeout(ok, delays[n]); }).then(function () { return attempt(n + 1); });
        }
        return resp;
      }, function (err) {
        if (n >= delays.length) { throw err; }
        return new Promise(function (ok) { setTimeout(ok, delays[n]); }).then(function () { return attempt(n + 1); });
      });
    }
    return attempt(0);
  };

  var open = XMLHttpRequest.prototype.open, send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.open = function (method, url) {
    this.__gwUnsafe = unsafe(method) && sameOrigin(url);
    return open.apply(this, arguments);
  };
  XMLHttpRequest.prototype.send = function () {
    if (this.__gwUnsafe) { this.setRequestHeader("X-CSRF-Token", cookie("gw_csrf")); }
    return send.apply(this, arguments);
  };
})();
