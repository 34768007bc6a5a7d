"""HTTP ingest of GPS: OsmAnd/Traccar protocol at /osmand and the batch API; each fix -> XADD."""

from __future__ import annotations

from collections import defaultdict
from urllib.parse import parse_qsl

import orjson
import redis
from flask import Blueprint, current_app, jsonify, request

from dashboard.metrics import ingest_counter
from dashboard.models import Fix
from dashboard.services import Services
from streams.fixes import (
    InvalidInput,
    fix_to_fields,
    pack_fix,
    packed_position,
    parse_osmand,
    parse_position,
    parse_traccar_json,
)

MAX_BATCH = 5000  # positions in one POST /api/v1/positions

bp = Blueprint("gps_ingest", __name__)


def services() -> Services:
    """Return the services of the running app."""
    return current_app.extensions["gridwall"]


# Append a gateway's batch to one shard stream in one call, in order.  A pipeline of XADDs
# costs the web process more per fix (packing each command, parsing each reply) than
# validating the fix; here the client sends one argument per fix and reads one number.
APPEND_LUA = """
for i = 1, #ARGV do redis.call('XADD', KEYS[1], '*', 'f', ARGV[i]) end
return #ARGV
"""


def append_fixes(svc: Services, fixes: list[Fix]) -> None:
    """Append fixes to their shard streams, one call per shard (raises redis errors)."""
    if len(fixes) == 1:  # a phone's single fix: a plain XADD is the cheapest
        fix = fixes[0]
        svc.r.xadd(svc.keys.gps_stream(svc.keys.gps_shard(fix.worker)), fix_to_fields(fix))
        ingest_counter(svc).add("gps", 1)
        return
    by_stream: dict[str, list[str]] = defaultdict(list)
    for fix in fixes:
        by_stream[svc.keys.gps_stream(svc.keys.gps_shard(fix.worker))].append(pack_fix(fix))
    append_packed(svc, by_stream)


def append_packed(svc: Services, by_stream: dict[str, list[str]]) -> None:
    """Append packed fixes to their shard streams, one call per shard (raises redis errors)."""
    script = svc.extra.get("gps.append")
    if script is None:
        script = svc.extra.setdefault("gps.append", svc.r.register_script(APPEND_LUA))
    for stream, packed in by_stream.items():
        script(keys=[stream], args=packed)
    ingest_counter(svc).add("gps", sum(len(p) for p in by_stream.values()))


def worker_streams(svc: Services) -> dict[str, str]:
    """Return the shard stream of every worker whose id a packed fix may carry as it is."""
    streams = svc.extra.get("gps.streams")
    if streams is None:
        streams = svc.extra.setdefault("gps.streams", {
            w.id: svc.keys.gps_stream(svc.keys.gps_shard(w.id)) for w in svc.district.workers
            if 0 < len(w.id) <= 64 and w.id.isprintable() and w.id == w.id.strip()})
    return streams


def _check_known(svc: Services, fix: Fix) -> None:
    if svc.district.worker(fix.worker) is None:
        raise InvalidInput(f"unknown device id: {fix.worker[:64]}")


def _error(status: int, reason: str):
    resp = jsonify({"error": reason})
    resp.status_code = status
    return resp


@bp.route("/osmand", methods=["GET", "POST"])
def osmand():
    """Accept one fix in the OsmAnd protocol (query, form) or Traccar Client JSON."""
    svc = services()
    if request.is_json:
        body = request.get_json(silent=True)
        parse = _not_json if body is None else (lambda: parse_traccar_json(body))
    else:
        params = request.args.to_dict() | request.form.to_dict()
        parse = lambda: parse_osmand(params)  # noqa: E731
    status, payload = accept_one(svc, parse)
    return current_app.response_class(payload, status=status,
                                      mimetype="application/json" if payload else None)


def _not_json() -> Fix:
    raise InvalidInput("body is not valid JSON")


def accept_one(svc: Services, parse) -> tuple[int, bytes]:  # noqa: ANN001 - () -> Fix
    """Parse and store one fix; return the HTTP status and body (a JSON reason when refused)."""
    try:
        fix = parse()
        _check_known(svc, fix)
    except InvalidInput as exc:
        return 400, orjson.dumps({"error": str(exc)})
    try:
        append_fixes(svc, [fix])
    except redis.RedisError as exc:
        reason = f"storage unavailable, retry later ({type(exc).__name__})"
        return 503, orjson.dumps({"error": reason})
    return 200, b""


class OsmandFastPath:
    """WSGI middleware answering OsmAnd query and form fixes before Flask runs.

    Phones send one small request per fix, the busiest endpoint of all; Flask's and Dash's
    per-request hooks cost more than parsing and storing the fix.  /osmand needs no login
    (auth_policy: a machine endpoint); JSON bodies and other paths go on to Flask.
    """

    STATUS = {200: "200 OK", 400: "400 BAD REQUEST", 413: "413 REQUEST ENTITY TOO LARGE",
              503: "503 SERVICE UNAVAILABLE"}

    def __init__(self, app, svc: Services) -> None:  # noqa: ANN001 - a WSGI application
        self.app, self.svc = app, svc

    def __call__(self, environ: dict, start_response):  # noqa: ANN204 - WSGI
        """Serve /osmand query and form requests; hand everything else to the app."""
        ctype = environ.get("CONTENT_TYPE", "")
        method = environ.get("REQUEST_METHOD")
        if (environ.get("PATH_INFO") != "/osmand" or "json" in ctype
                or method not in ("GET", "POST")
                or (method == "POST" and not environ.get("CONTENT_LENGTH"))):  # chunked: Flask
            return self.app(environ, start_response)
        params = _first_values(_wsgi_text(environ.get("QUERY_STRING", "")))
        if method == "POST" and ctype.startswith(FORM):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            if length > MAX_FORM_BYTES:
                status, body = 413, orjson.dumps({"error": "form too large"})
                return self._answer(start_response, status, body)
            raw = environ["wsgi.input"].read(length) if length > 0 else b""
            params |= _first_values(raw.decode("utf-8", "replace"))
        status, body = accept_one(self.svc, lambda: parse_osmand(params))
        return self._answer(start_response, status, body)

    def _answer(self, start_response, status: int, body: bytes) -> list[bytes]:  # noqa: ANN001
        headers = [("Content-Length", str(len(body)))]
        if body:
            headers.append(("Content-Type", "application/json"))
        start_response(self.STATUS[status], headers)
        return [body]


FORM = "application/x-www-form-urlencoded"
MAX_FORM_BYTES = 64 * 1024  # an OsmAnd form is a few hundred bytes


def _wsgi_text(s: str) -> str:
    """Return a WSGI (latin-1) string as the UTF-8 text the client sent."""
    return s.encode("latin-1", "replace").decode("utf-8", "replace")


def _first_values(query: str) -> dict[str, str]:
    """Return the first value of each name of a query or form string (as Flask's to_dict)."""
    out: dict[str, str] = {}
    for k, v in parse_qsl(query, keep_blank_values=True):
        out.setdefault(k, v)
    return out


@bp.route("/api/v1/positions", methods=["POST"])
def positions():
    """Accept a batch of fixes from a gateway: {"positions": [...]} or a bare list."""
    svc = services()
    body = request.get_json(silent=True)
    items = body.get("positions") if isinstance(body, dict) else body
    if not isinstance(items, list):
        return _error(400, 'body must be a JSON list or {"positions": [...]}')
    if len(items) > MAX_BATCH:
        return _error(413, f"at most {MAX_BATCH} positions per request")
    streams = worker_streams(svc)
    by_stream: dict[str, list[str]] = defaultdict(list)
    rejected, accepted = [], 0
    for i, item in enumerate(items):
        packed = packed_position(item, streams)  # the usual item, without building a Fix
        if packed is not None:
            by_stream[streams[item["id"]]].append(packed)
        else:
            try:
                fix = parse_position(item)
                _check_known(svc, fix)
            except InvalidInput as exc:
                rejected.append({"index": i, "reason": str(exc)})
                continue
            by_stream[svc.keys.gps_stream(svc.keys.gps_shard(fix.worker))].append(pack_fix(fix))
        accepted += 1
    if not accepted:
        return jsonify({"accepted": 0, "rejected": rejected}), 400
    try:
        append_packed(svc, by_stream)
    except redis.RedisError as exc:
        return _error(503, f"storage unavailable, retry later ({type(exc).__name__})")
    return jsonify({"accepted": accepted, "rejected": rejected})
