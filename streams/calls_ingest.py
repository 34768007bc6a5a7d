"""HTTP ingest of exchange interface calls: POST /api/v1/calls (batches) -> the calls stream."""

from __future__ import annotations

import hmac

import redis
from flask import Blueprint, current_app, jsonify, request

from dashboard.exchange import Call
from dashboard.exchange_queries import registry
from dashboard.services import Services
from streams.call_records import call_to_fields, parse_call_item
from streams.fixes import InvalidInput

MAX_BATCH = 5000  # calls in one POST /api/v1/calls

bp = Blueprint("calls_ingest", __name__)


def services() -> Services:
    """Return the services of the running app."""
    return current_app.extensions["gridwall"]


def key_ok(header: str | None, allowed: str) -> bool:
    """Tell whether an X-Api-Key header matches one of a comma-separated list of keys."""
    given = (header or "").encode()
    return any(hmac.compare_digest(given, k.strip().encode())
               for k in allowed.split(",") if k.strip())


def append_calls(svc: Services, calls: list[Call]) -> None:
    """Append calls to the calls stream in one round trip (raises redis errors)."""
    pipe = svc.r.pipeline(transaction=False)
    stream = svc.keys.calls_stream()
    for call in calls:
        pipe.xadd(stream, call_to_fields(call))
    pipe.execute()


def _error(status: int, reason: str):
    resp = jsonify({"error": reason})
    resp.status_code = status
    return resp


@bp.route("/api/v1/calls", methods=["POST"])
def calls():
    """Accept a batch of interface calls from the exchange gateway: {"calls": [...]} or a list."""
    svc = services()
    allowed = svc.settings.exchange_gateway_keys
    if allowed and not key_ok(request.headers.get("X-Api-Key"), allowed):
        return _error(401, "missing or wrong X-Api-Key")
    body = request.get_json(silent=True)
    items = body.get("calls") if isinstance(body, dict) else body
    if not isinstance(items, list):
        return _error(400, 'body must be a JSON list or {"calls": [...]}')
    if len(items) > MAX_BATCH:
        return _error(413, f"at most {MAX_BATCH} calls per request")
    if not items:
        return _error(400, "no calls in the batch")
    reg, s, now = registry(svc), svc.settings, svc.clock.now()
    accepted, rejected = [], []
    for i, item in enumerate(items):
        try:
            call = parse_call_item(item, reg)
            reason = reg.problem(call)
            if reason is None and call.ts > now + s.calls_max_future_s:
                reason = f"future timestamp: {call.ts - now:.0f} s ahead"
            elif reason is None and call.ts < now - s.calls_max_past_s:
                reason = f"too old: {now - call.ts:.0f} s in the past"
            if reason:
                raise InvalidInput(reason)
            accepted.append(call)
        except InvalidInput as exc:
            rejected.append({"index": i, "reason": str(exc)})
    if not accepted:
        return jsonify({"accepted": 0, "rejected": rejected}), 400
    try:
        append_calls(svc, accepted)
    except redis.RedisError as exc:
        return _error(503, f"storage unavailable, retry later ({type(exc).__name__})")
    return jsonify({"accepted": len(accepted), "rejected": rejected})
