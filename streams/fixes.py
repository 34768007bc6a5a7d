"""Parse GPS fixes at the edge: OsmAnd query/form, Traccar JSON, batch JSON, stream fields."""

from __future__ import annotations

import math
from collections.abc import Container, Mapping
from datetime import UTC, datetime
from typing import Any

from dashboard.models import Fix

KNOTS_TO_MPS = 0.514444


class InvalidInput(ValueError):
    """Input that cannot become a record; the message is the reason given to the sender."""


def _num(raw: Any, name: str, required: bool = False) -> float | None:
    if raw is None or raw == "":
        if required:
            raise InvalidInput(f"missing {name}")
        return None
    if isinstance(raw, bool):
        raise InvalidInput(f"{name} is not a number")
    try:
        value = float(raw)
    except OverflowError:  # an integer beyond any float
        raise InvalidInput(f"{name} is not finite") from None
    except (TypeError, ValueError):
        raise InvalidInput(f"{name} is not a number: {str(raw)[:40]!r}") from None
    if not math.isfinite(value):
        raise InvalidInput(f"{name} is not finite")
    return value


def parse_timestamp(raw: Any) -> float:
    """Return Unix seconds from Unix seconds/milliseconds or an ISO 8601 string."""
    if raw is None or raw == "":
        raise InvalidInput("missing timestamp")
    if (
        isinstance(raw, (int, float))
        and not isinstance(raw, bool)
        or (isinstance(raw, str) and raw.strip().lstrip("-").replace(".", "", 1).isdigit())
    ):
        value = _num(raw, "timestamp", True)
        return value / 1000.0 if value > 1e11 else value  # Traccar sends ms from some apps
    if not isinstance(raw, str) or len(raw) > 40:
        raise InvalidInput("timestamp is neither Unix seconds nor ISO 8601")
    text = raw.strip().replace("Z", "+00:00").replace(" ", "T", 1)
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"timestamp is not ISO 8601: {raw[:40]!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def _worker(raw: Any) -> str:
    if not isinstance(raw, (str, int)) or isinstance(raw, bool):
        raise InvalidInput("missing device id")
    wid = str(raw).strip()
    if not wid or len(wid) > 64 or not wid.isprintable():
        raise InvalidInput("device id must be 1–64 printable characters")
    return wid


def make_fix(
    worker: Any,
    ts: Any,
    lat: Any,
    lon: Any,
    speed: Any = None,
    bearing: Any = None,
    altitude: Any = None,
    accuracy: Any = None,
    battery: Any = None,
) -> Fix:
    """Validate raw values and return a Fix; raise InvalidInput with the reason otherwise."""
    la = _num(lat, "lat", True)
    lo = _num(lon, "lon", True)
    if not -90.0 <= la <= 90.0 or not -180.0 <= lo <= 180.0:
        raise InvalidInput("lat/lon out of range")
    if round(la, 7) == 0.0 and round(lo, 7) == 0.0:  # 7 decimals: what the stream keeps
        raise InvalidInput("lat/lon is 0,0 (no GPS fix)")
    batt = _num(battery, "batt")
    spd = _num(speed, "speed")
    if spd is not None and spd < 0:
        spd = None
    return Fix(
        worker=_worker(worker),
        ts=parse_timestamp(ts),
        lat=la,
        lon=lo,
        speed=spd,
        bearing=_num(bearing, "bearing"),
        altitude=_num(altitude, "altitude"),
        accuracy=_num(accuracy, "accuracy"),
        battery=batt,
    )


def parse_osmand(params: Mapping[str, Any]) -> Fix:
    """Return the Fix of an OsmAnd/Traccar query or form request (speed in knots, as OsmAnd)."""
    speed = _num(params.get("speed"), "speed")
    return make_fix(
        params.get("id") or params.get("deviceid"),
        params.get("timestamp") or params.get("time"),
        params.get("lat"),
        params.get("lon"),
        speed * KNOTS_TO_MPS if speed is not None else None,
        params.get("bearing") or params.get("heading"),
        params.get("altitude"),
        params.get("accuracy") or params.get("hdop"),
        params.get("batt"),
    )


def parse_traccar_json(body: Any) -> Fix:
    """Return the Fix of a Traccar Client 9+ JSON body (speed already in m/s)."""
    if not isinstance(body, dict):
        raise InvalidInput("JSON body must be an object")
    loc = body.get("location")
    if not isinstance(loc, dict) or not isinstance(loc.get("coords"), dict):
        raise InvalidInput("missing location.coords")
    c = loc["coords"]
    batt = loc.get("battery") if isinstance(loc.get("battery"), dict) else {}
    level = _num(batt.get("level"), "battery.level")  # a fraction 0–1 in Traccar Client JSON
    return make_fix(
        body.get("device_id"),
        loc.get("timestamp"),
        c.get("latitude"),
        c.get("longitude"),
        c.get("speed"),
        c.get("heading"),
        c.get("altitude"),
        c.get("accuracy"),
        None if level is None else level * 100.0,
    )


def parse_position(item: Any) -> Fix:
    """Return the Fix of one item of the batch API: {id, timestamp, lat, lon, speed m/s, ...}."""
    if not isinstance(item, dict):
        raise InvalidInput("position must be an object")
    return make_fix(
        item.get("id") or item.get("device_id"),
        item.get("timestamp"),
        item.get("lat"),
        item.get("lon"),
        item.get("speed"),
        item.get("bearing"),
        item.get("altitude"),
        item.get("accuracy"),
        item.get("batt"),
    )


# A fix travels as one packed stream field, "t|la|lo|s|b|a|c|bt|w" (empty: not reported):
# one field instead of nine makes every XADD, XREADGROUP and reply parse several times
# cheaper.  The worker id comes last because it may itself contain "|".
PACKED = b"f"
PACKED_NAMES = (b"t", b"la", b"lo", b"s", b"b", b"a", b"c", b"bt", b"w")


def _opt_text(v: float | None) -> str:
    return "" if v is None else f"{v:.2f}"


def pack_fix(fix: Fix) -> str:
    """Return the packed stream field value of a Fix."""
    return (f"{fix.ts:.3f}|{fix.lat:.7f}|{fix.lon:.7f}|{_opt_text(fix.speed)}|"
            f"{_opt_text(fix.bearing)}|{_opt_text(fix.altitude)}|"
            f"{_opt_text(fix.accuracy)}|{_opt_text(fix.battery)}|{fix.worker}")


_OPTIONAL = ("speed", "bearing", "altitude", "accuracy", "batt")
_JSON_NUM = (int, float)  # compared with type(): a bool is not a number here


def packed_position(item: Any, known: Container[str]) -> str | None:
    """Return pack_fix(parse_position(item)) for a plain batch item of a known worker, or
    None to leave the item to parse_position (which then accepts it or names the fault).

    A gateway sends thousands of such items a second; this path takes JSON numbers and a
    known id as they are, and gives way on anything unusual rather than judging it twice.
    """
    if type(item) is not dict:
        return None
    wid, ts, la, lo = item.get("id"), item.get("timestamp"), item.get("lat"), item.get("lon")
    if (type(wid) is not str or wid not in known or type(ts) not in _JSON_NUM
            or type(la) not in _JSON_NUM or type(lo) not in _JSON_NUM):
        return None
    try:
        ts, la, lo = float(ts), float(la), float(lo)
        if (not (math.isfinite(ts) and -90.0 <= la <= 90.0 and -180.0 <= lo <= 180.0)
                or (round(la, 7) == 0.0 and round(lo, 7) == 0.0)):
            return None
        text = []
        for name in _OPTIONAL:
            v = item.get(name)
            if v is None or v == "":
                text.append("")
                continue
            if type(v) not in _JSON_NUM or not math.isfinite(v := float(v)):
                return None
            text.append("" if name == "speed" and v < 0 else f"{v:.2f}")
    except OverflowError:  # an integer beyond any float
        return None
    if ts > 1e11:
        ts /= 1000.0
    return f"{ts:.3f}|{la:.7f}|{lo:.7f}|{'|'.join(text)}|{wid}"


def fix_to_fields(fix: Fix) -> dict[str, str]:
    """Return the stream fields of a Fix: one packed field."""
    return {"f": pack_fix(fix)}


def unpack_fields(fields: Mapping[bytes, bytes]) -> Mapping[bytes, bytes]:
    """Return the named fields of a packed entry (an entry with named fields as it is)."""
    packed = fields.get(PACKED)
    if packed is None:
        return fields
    if isinstance(packed, str):
        packed = packed.encode()
    parts = packed.split(b"|", len(PACKED_NAMES) - 1)
    if len(parts) != len(PACKED_NAMES):
        raise InvalidInput(f"malformed: packed fix has {len(parts)} of "
                           f"{len(PACKED_NAMES)} parts")
    return {k: v for k, v in zip(PACKED_NAMES, parts, strict=True) if v}


def _opt(fields: Mapping[bytes, bytes], key: bytes) -> float | None:
    raw = fields.get(key)
    if raw is None:
        return None
    value = float(raw)
    if not math.isfinite(value):
        raise ValueError(key)
    return value


def fix_from_fields(fields: Mapping[bytes, bytes]) -> Fix:
    """Return the Fix of a gps stream entry; raise InvalidInput for a malformed one."""
    fields = unpack_fields(fields)
    try:  # fast path for well-formed entries; the slow path below names what is wrong
        wid = fields[b"w"].decode()
        ts, lat, lon = float(fields[b"t"]), float(fields[b"la"]), float(fields[b"lo"])
        if (
            0 < len(wid) <= 64
            and wid.isprintable()
            and -90.0 <= lat <= 90.0
            and -180.0 <= lon <= 180.0
            and (lat or lon)
            and math.isfinite(ts)
        ):
            spd = _opt(fields, b"s")
            return Fix(
                wid,
                ts / 1000.0 if ts > 1e11 else ts,
                lat,
                lon,
                None if spd is None or spd < 0 else spd,
                _opt(fields, b"b"),
                _opt(fields, b"a"),
                _opt(fields, b"c"),
                _opt(fields, b"bt"),
            )
    except (KeyError, ValueError, UnicodeDecodeError, TypeError):
        pass
    try:
        get = {k.decode(): v.decode() for k, v in fields.items()}
    except UnicodeDecodeError:
        raise InvalidInput("malformed: entry is not UTF-8") from None
    try:
        return make_fix(
            get.get("w"),
            get.get("t"),
            get.get("la"),
            get.get("lo"),
            get.get("s"),
            get.get("b"),
            get.get("a"),
            get.get("c"),
            get.get("bt"),
        )
    except InvalidInput as exc:
        raise InvalidInput(f"malformed: {exc}") from None
