"""Helpers of the people tests: crafted residents and a registry put in place of the file."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dashboard.residents import BOOL_COLUMNS, DATE_COLUMNS, TEXT_COLUMNS


def resident(rid: str, grid: str = "WX-01-01", birth: str = "1980-01-01", **kw) -> dict:
    """Return one resident row with sensible defaults (dates as ISO strings or None)."""
    row = {"rid": rid, "name": "张泽辉", "sex": "M", "birth": birth,
           "id_no": "120110198001011234", "phone": "13812345678", "grid": grid,
           "household": "H" + rid[1:], "relation": "户主", "address": "铁城公寓3号楼2门501",
           "living_alone": False, "tenant": False, "lease_holder": False, "lease_end": None,
           "party_member": False, "id_expiry": None, "last_visit": None}
    row.update(kw)
    return row


def frame(rows: list[dict]) -> pd.DataFrame:
    """Return a registry frame of resident rows, typed like load_residents()."""
    df = pd.DataFrame(rows, columns=[*TEXT_COLUMNS, *DATE_COLUMNS, *BOOL_COLUMNS])
    for c in DATE_COLUMNS:
        df[c] = pd.to_datetime(df[c]).to_numpy().astype("datetime64[D]")
    for c in BOOL_COLUMNS:
        df[c] = df[c].fillna(False).astype(bool)
    return df.set_index("rid", drop=False)


def use_registry(svc, rows: list[dict]) -> pd.DataFrame:  # noqa: ANN001
    """Make rows the registry of svc (instead of residents.parquet)."""
    df = frame(rows)
    svc.extra["residents"] = df
    return df


def day(s: str) -> np.datetime64:
    return np.datetime64(s, "D")


def cover_walk(ring, t0: float, speed: float = 1.25, every: float = 10.0,
               spacing: float = 25.0, rows: int = 0) -> list[tuple[float, float, float]]:
    """Return fixes of a lawn-mower walk over a grid ring (lon/lat): rows `spacing` m apart."""
    import math

    import shapely
    from shapely.geometry import LineString, Polygon

    from dashboard.patrols import M_PER_DEG

    poly = Polygon(ring)
    c = poly.centroid
    kx = M_PER_DEG * math.cos(math.radians(c.y))
    local = shapely.transform(poly, lambda xy: (xy - (c.x, c.y)) * (kx, M_PER_DEG))
    inner = local.buffer(-8)
    minx, miny, maxx, maxy = inner.bounds
    path: list[tuple[float, float]] = []
    y, i = miny + spacing / 2, 0
    while y < maxy and (not rows or i < rows):
        seg = LineString([(minx - 1, y), (maxx + 1, y)]).intersection(inner)
        if not seg.is_empty:
            parts = list(getattr(seg, "geoms", [seg]))
            line = max(parts, key=lambda g: g.length)
            a, b = list(line.coords)[0], list(line.coords)[-1]
            path += [a, b] if i % 2 == 0 else [b, a]
            i += 1
        y += spacing
    out, t, carry = [], t0, 0.0
    for (xa, ya), (xb, yb) in zip(path, path[1:], strict=False):
        d = math.hypot(xb - xa, yb - ya)
        s = carry
        while s < d:
            f = s / d
            x, yy = xa + f * (xb - xa), ya + f * (yb - ya)
            out.append((t + s / speed, c.y + yy / M_PER_DEG, c.x + x / kx))
            s += speed * every
        carry = s - d
        t += d / speed
    return out


def put_track(svc, wid: str, points: list[tuple[float, float, float]]) -> None:  # noqa: ANN001
    """Store points as the packed track of their day in Redis, like the gps consumer does."""
    from streams.gps_state import pack_point

    by_day: dict[str, bytearray] = {}
    for t, la, lo in points:
        by_day.setdefault(svc.days.day(t), bytearray()).extend(pack_point(t, la, lo))
    shard = svc.keys.gps_shard(wid)
    for d, blob in by_day.items():
        svc.r.append(svc.keys.gps_track(shard, d, wid), bytes(blob))
        svc.r.sadd(svc.keys.gps_track_index(shard, d), wid)
        svc.r.sadd(svc.keys.gps_days(shard), d)


def stand(t0: float, lat: float, lon: float, minutes: float, east_m: float = 0.0,
          every: float = 30.0) -> list[tuple[float, float, float]]:
    """Return fixes of someone standing (3 m of GPS jitter) east_m metres east of a point."""
    import math

    from dashboard.patrols import M_PER_DEG

    kx = M_PER_DEG * math.cos(math.radians(lat))
    return [(t0 + every * i, lat + 3 * math.cos(i) / M_PER_DEG,
             lon + (east_m + 3 * math.sin(i)) / kx) for i in range(int(minutes * 60 / every))]
