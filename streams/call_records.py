"""Parse exchange calls at the edge: the batch API's JSON items and the calls stream's fields.

On the stream a call is one field ``v = "<t>|<caller>|<provider>|<interface>|<catalog>|<r>|<l>"``
(t Unix s, r 1 ok / 0 error, l latency ms; provider may be empty: the catalog's unit), the
compact form the consumer reads fastest.  A gateway may XADD named fields t, c, p, i, k, r, l
instead (r also ok/error); both parse to the same Call.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from dashboard.exchange import Call, Registry
from streams.fixes import InvalidInput, parse_timestamp

MAX_LATENCY_MS = 10_000_000


def _code(raw: Any, what: str) -> str:
    if not isinstance(raw, str | int) or isinstance(raw, bool):
        raise InvalidInput(f"missing {what}")
    text = str(raw).strip()
    if not text or len(text) > 64 or not text.isprintable() or "|" in text:
        raise InvalidInput(f"{what} must be 1–64 printable characters, no '|'")
    return text


def _result(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower() if raw is not None else ""
    if text in ("ok", "1", "true", "success"):
        return True
    if text in ("error", "0", "false", "fail", "failed"):
        return False
    raise InvalidInput("result must be ok or error")


def _latency(raw: Any) -> int:
    if raw is None or raw == "" or isinstance(raw, bool):
        raise InvalidInput("missing latency_ms")
    try:
        value = float(raw)
    except OverflowError:  # an integer beyond any float
        value = math.inf
    except (TypeError, ValueError):
        raise InvalidInput(f"latency_ms is not a number: {str(raw)[:40]!r}") from None
    if not math.isfinite(value) or not 0 <= value <= MAX_LATENCY_MS:
        raise InvalidInput("latency_ms must be between 0 and 10,000,000")
    return round(value)


def make_call(ts: Any, caller: Any, provider: Any, interface: Any, catalog: Any, result: Any,
              latency_ms: Any, registry: Registry | None = None) -> Call:
    """Validate raw values and return a Call (provider defaults to the catalog's unit)."""
    cat = _code(catalog, "catalog")
    if provider in (None, "") and registry is not None:
        if cat not in registry.catalogs:
            raise InvalidInput(f"unknown catalog: {cat}")
        provider = registry.catalogs[cat].unit
    return Call(parse_timestamp(ts), _code(caller, "caller"), _code(provider, "provider"),
                _code(interface, "interface"), cat, _result(result), _latency(latency_ms))


def parse_call_item(item: Any, registry: Registry | None = None) -> Call:
    """Return the Call of one item of POST /api/v1/calls."""
    if not isinstance(item, dict):
        raise InvalidInput("call must be an object")
    return make_call(item.get("time", item.get("timestamp")), item.get("caller"),
                     item.get("provider"), item.get("interface"), item.get("catalog"),
                     item.get("result"), item.get("latency_ms"), registry)


def call_to_fields(call: Call) -> dict[str, str]:
    """Return the compact stream fields of a Call."""
    return {"v": f"{call.ts:.3f}|{call.caller}|{call.provider}|{call.interface}|{call.catalog}|"
                 f"{1 if call.ok else 0}|{call.latency_ms}"}


def call_from_fields(fields: Mapping[bytes, bytes], registry: Registry | None = None) -> Call:
    """Return the Call of a calls stream entry; raise InvalidInput ('malformed: ...')."""
    try:
        get = {k.decode(): v.decode() for k, v in fields.items()}
    except UnicodeDecodeError:
        raise InvalidInput("malformed: entry is not UTF-8") from None
    if "v" in get:
        parts = get["v"].split("|")
        if len(parts) != 7:
            raise InvalidInput("malformed: v must have 7 '|'-separated parts")
        get = dict(zip("tcpikrl", parts, strict=True))
    try:
        return make_call(get.get("t"), get.get("c"), get.get("p"), get.get("i"), get.get("k"),
                         get.get("r"), get.get("l"), registry)
    except InvalidInput as exc:
        raise InvalidInput(f"malformed: {exc}") from None
