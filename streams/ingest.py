"""HTTP ingest of GPS: OsmAnd/Traccar protocol at /osmand and the batch API; each fix -> XADD."""

from __future__ import annotations

import redis
from flask import Blueprint, current_app, jsonify, request

from dashboard.metrics import count_stored
from dashboard.models import Fix
from dashboard.services import Services
from streams.fixes import (
    InvalidInput,
    fix_to_fields,
    parse_osmand,
    parse_position,
    parse_traccar_json,
)

MAX_BATCH = 5000  # positions in one POST /api/v1/positions

bp = Blueprint("gps_ingest", __name__)


def services() -> Services:
    """Return the services of the running app."""
    return current_app.extensions["gridwall"]


def append_fixes(svc: Services, fixes: list[Fix]) -> None:
    """Append fixes to their shard streams in one round trip (raises redis errors)."""
    pipe = svc.r.pipeline(transaction=False)
    for fix in fixes:
        pipe.xadd(svc.keys.gps_stream(svc.keys.gps_shard(fix.worker)), fix_to_fields(fix))
    count_stored(pipe, svc, "gps", len(fixes))  # the ingest metric, in the same round trip
    pipe.execute()


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
    try:
        if request.is_json:
            body = request.get_json(silent=True)
            if body is None:
                raise InvalidInput("body is not valid JSON")
            fix = parse_traccar_json(body)
        else:
            params = request.args.to_dict() | request.form.to_dict()
            fix = parse_osmand(params)
        _check_known(svc, fix)
    except InvalidInput as exc:
        return _error(400, str(exc))
    try:
        append_fixes(svc, [fix])
    except redis.RedisError as exc:
        return _error(503, f"storage unavailable, retry later ({type(exc).__name__})")
    return "", 200


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
    fixes, rejected = [], []
    for i, item in enumerate(items):
        try:
            fix = parse_position(item)
            _check_known(svc, fix)
            fixes.append(fix)
        except InvalidInput as exc:
            rejected.append({"index": i, "reason": str(exc)})
    if not fixes:
        return jsonify({"accepted": 0, "rejected": rejected}), 400
    try:
        append_fixes(svc, fixes)
    except redis.RedisError as exc:
        return _error(503, f"storage unavailable, retry later ({type(exc).__name__})")
    return jsonify({"accepted": len(fixes), "rejected": rejected})
