"""A batch of gps stream entries as columns (numpy arrays), and stored states as columns.

The fast path converts whole columns at once and takes only rows that are certainly valid;
every other row goes through `fix_from_fields`, the one definition of a valid fix, so the
reasons a malformed entry is refused stay exactly those of the scalar parser.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from dashboard.models import District
from streams.consumer import Entry, Failure
from streams.fixes import PACKED, PACKED_NAMES, InvalidInput, fix_from_fields
from streams.gps_state import WorkerState

STATE_FIELDS = 11  # values of a packed WorkerState


@dataclass
class Rows:
    """Parsed fixes of one batch, one array element (or list item) per kept entry."""

    at: np.ndarray  # int64 position of the entry in the batch
    ids: list[bytes]  # stream entry ids
    ms: np.ndarray  # int64 milliseconds part of the entry id
    seq: np.ndarray  # uint64 sequence part of the entry id
    workers: list[str]
    own: np.ndarray  # int64 canonical index of the worker's own grid (-2: not in the map)
    ts: np.ndarray  # Unix seconds
    lat: np.ndarray
    lon: np.ndarray
    speed: np.ndarray  # m/s, NaN when not reported
    battery: np.ndarray  # percent, NaN when not reported

    def take(self, idx: np.ndarray) -> Rows:
        """Return the rows at these positions, in this order."""
        pick = idx.tolist()
        return Rows(self.at[idx], [self.ids[i] for i in pick], self.ms[idx], self.seq[idx],
                    [self.workers[i] for i in pick], self.own[idx], self.ts[idx],
                    self.lat[idx], self.lon[idx], self.speed[idx], self.battery[idx])


def entry_keys(ids: Sequence[bytes | str]) -> tuple[np.ndarray, np.ndarray]:
    """Return the (ms, seq) parts of stream entry ids as int64 and uint64 arrays."""
    raw = [i.encode() if isinstance(i, str) else i for i in ids]
    parts = b"-".join(raw).split(b"-")
    if len(parts) == 2 * len(raw):  # every id is ms-seq: numpy runs int() over the columns
        return np.array(parts[0::2], dtype=np.int64), np.array(parts[1::2], dtype=np.uint64)
    split = [p.partition(b"-") for p in raw]
    ms = np.fromiter((int(p[0]) for p in split), np.int64, len(split))
    seq = np.fromiter((int(p[2] or 0) for p in split), np.uint64, len(split))
    return ms, seq


def _column(values: list, ok: np.ndarray, optional: bool) -> np.ndarray:
    """Return floats of raw values (NaN where missing); clear `ok` where one is unusable."""
    n = len(values)
    if optional and values.count(None) == n:
        return np.full(n, np.nan)
    try:
        out = np.fromiter(map(float, values), np.float64, n)
    except (TypeError, ValueError):
        out = np.full(n, np.nan)
        for i, v in enumerate(values):
            if v is None and optional:
                continue
            try:
                out[i] = float(v)
            except (TypeError, ValueError):
                ok[i] = False
        present = np.array([v is not None for v in values])
    else:
        present = np.ones(n, dtype=bool)
    if optional:
        ok &= ~present | np.isfinite(out)
    return out


def _decode(raw: list, ok: np.ndarray) -> list[str]:
    try:
        return [w.decode() for w in raw]
    except (AttributeError, UnicodeDecodeError):
        out = []
        for i, w in enumerate(raw):
            try:
                out.append(w.decode())
            except (AttributeError, UnicodeDecodeError):
                ok[i] = False
                out.append("")
        return out


def _packed_parts(fields: list[dict], ok: np.ndarray) -> list[list] | None:
    """Return the nine columns of packed entries (b'' and None: not reported), or None when
    some entry has no packed field; clear `ok` for an entry whose packed field is malformed."""
    packed = [f.get(PACKED) for f in fields]
    if None in packed:
        return None
    width = len(PACKED_NAMES)
    try:
        regular = all(v.count(b"|") == width - 1 for v in packed)
    except (AttributeError, TypeError):
        regular = False
    if regular:  # no "|" inside a worker id: split once for all
        parts = b"|".join(packed).split(b"|")
        return [parts[k::width] for k in range(width)]
    rows = []
    for i, v in enumerate(packed):
        row = v.split(b"|", width - 1) if isinstance(v, bytes) else []
        if len(row) != width:
            ok[i], row = False, [None] * width
        rows.append(row)
    return [list(col) for col in zip(*rows, strict=True)]


def _named_parts(fields: list[dict]) -> list[list]:
    """Return the nine columns of entries with named fields (None: missing)."""
    return [[f.get(k) for f in fields] for k in PACKED_NAMES]


def parse_rows(
    entries: list[Entry], own_of: Mapping[str, int], district: District
) -> tuple[list[tuple[int, Failure]], Rows]:
    """Return the refused entries (with their position) and the fixes of a batch as columns.

    `own_of` maps each known worker id (1-64 printable characters) to its own grid.
    """
    fields = [f for _, f in entries]
    ok = np.ones(len(entries), dtype=bool)
    cols = _packed_parts(fields, ok)
    if cols is None:
        cols = _named_parts(fields)
    else:
        cols = [[v or None for v in col] if b"" in col else col for col in cols]
    t, la, lo, s, _b, _a, _c, bt, w = cols
    workers = _decode(w, ok)
    ts = _column(t, ok, False)
    lat = _column(la, ok, False)
    lon = _column(lo, ok, False)
    speed = _column(s, ok, True)
    battery = _column(bt, ok, True)
    for optional in (_b, _a, _c):  # not kept, but a malformed one refuses the fix
        _column(optional, ok, True)
    own = np.fromiter((own_of.get(w, -3) for w in workers), np.int64, len(workers))
    with np.errstate(invalid="ignore"):
        ok &= (own > -3) & np.isfinite(ts) & (np.abs(lat) <= 90.0) & (np.abs(lon) <= 180.0)
        ok &= (np.abs(lat) > 1e-6) | (np.abs(lon) > 1e-6)  # near 0,0: the scalar parser decides
        ts = np.where(ts > 1e11, ts / 1000.0, ts)
        speed = np.where(speed < 0, np.nan, speed)
    failures: list[tuple[int, Failure]] = []
    for i in np.flatnonzero(~ok).tolist():  # the scalar parser names what is wrong, or keeps it
        eid = entries[i][0]
        try:
            fix = fix_from_fields(fields[i])
        except InvalidInput as exc:
            failures.append((i, Failure(eid, str(exc))))
            continue
        if district.worker(fix.worker) is None:
            failures.append((i, Failure(eid, f"unknown worker: {fix.worker[:64]}")))
            continue
        workers[i], own[i], ok[i] = fix.worker, own_of.get(fix.worker, -2), True
        ts[i], lat[i], lon[i] = fix.ts, fix.lat, fix.lon
        speed[i] = np.nan if fix.speed is None else fix.speed
        battery[i] = np.nan if fix.battery is None else fix.battery
    n = len(entries)
    ids = [e[0] if isinstance(e[0], bytes) else str(e[0]).encode() for e in entries]
    rows = Rows(np.arange(n), ids, np.zeros(n, np.int64),
                np.zeros(n, np.uint64), workers, own, ts, lat, lon, speed, battery)
    if not ok.all():
        rows = rows.take(np.flatnonzero(ok))
    rows.ms, rows.seq = entry_keys(rows.ids)
    return failures, rows


@dataclass
class States:
    """Stored states of some workers as columns (rows without a state hold zeros)."""

    raw: list[bytes | None]
    has: np.ndarray  # bool
    ms: np.ndarray
    seq: np.ndarray
    ts: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    track_ts: np.ndarray
    track_lat: np.ndarray
    track_lon: np.ndarray

    def entry_id(self, i: int) -> bytes:
        """Return the last entry id seen of row i (b'' without a state)."""
        raw = self.raw[i]
        return raw[: raw.index(b"|")] if raw else b""


def parse_states(raw: list[bytes | None]) -> States:
    """Return packed WorkerState values (None: no state) as columns."""
    n = len(raw)
    has = np.array([v is not None for v in raw], dtype=bool)
    present = [v for v in raw if v is not None]
    parts = b"|".join(present).split(b"|") if present else []
    if len(parts) != STATE_FIELDS * len(present):  # a value with extra '|': as unpack reads it
        parts = [f"{getattr(s, f.name)}".encode() for v in present
                 for s in [WorkerState.unpack(v)] for f in dataclasses.fields(s)]

    def col(k: int) -> np.ndarray:
        out = np.zeros(n)
        out[has] = np.fromiter(map(float, parts[k::STATE_FIELDS]), np.float64, len(present))
        return out

    ms, seq = np.zeros(n, np.int64), np.zeros(n, np.uint64)
    ms[has], seq[has] = entry_keys(parts[0::STATE_FIELDS])
    return States(raw, has, ms, seq, col(1), col(2), col(3), col(8), col(9), col(10))
