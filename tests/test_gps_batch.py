"""The gps batch path: columns parse like fix_from_fields, arrays fold like the scalar fold."""

from __future__ import annotations

import random

import numpy as np
import pytest

from streams.fixes import PACKED_NAMES, InvalidInput, fix_from_fields
from streams.gps_batch import entry_keys, parse_rows, parse_states
from streams.gps_state import WorkerState
from streams.gps_step import Folder


def _inside(svc, wid):
    grid = svc.district.grid(svc.district.worker(wid).grid)
    c = svc.locator.polygons[svc.locator.grid_index(grid.code)].representative_point()
    return c.y, c.x


def _fields(**kw) -> dict[bytes, bytes]:
    return {k.encode(): v if isinstance(v, bytes) else str(v).encode() for k, v in kw.items()}


ODD = [
    _fields(w="W0001", t="1780000000000", la="39.1", lo="117.3"),  # ms timestamp
    _fields(w="W0001", t=1780000000, la=39.1, lo=117.3, s=-1),  # negative speed: none
    _fields(w="W0001", t=1780000000, la=39.1, lo=117.3, b="nan"),
    _fields(w="W0001", t=1780000000, la=39.1, lo=117.3, c="inf"),
    _fields(w="W0001", t=1780000000, la=39.1, lo=117.3, bt="x"),
    _fields(w="W0001", t=1780000000, la="north", lo=117.3),
    _fields(w="W0001", t=1780000000, la=39.1),
    _fields(w="W0001", t=1780000000, la=0, lo=0),
    _fields(w="W0001", t=1780000000, la="0.00000001", lo="0.00000001"),
    _fields(w="W0001", t=1780000000, la=91, lo=117.3),
    _fields(w="W0001", t="nan", la=39.1, lo=117.3),
    _fields(w="W0001", t="2026-05-29T04:26:40Z", la=39.1, lo=117.3),
    _fields(w="NOBODY", t=1780000000, la=39.1, lo=117.3),
    _fields(w=b"\xff\xfe", t=1780000000, la=39.1, lo=117.3),
    _fields(w=" W0001 ", t=1780000000, la=39.1, lo=117.3, b="inf"),
    _fields(w="W0001", t="1_780_000_000", la=" 39.1 ", lo="117.3"),
    _fields(t=1780000000, la=39.1, lo=117.3),
]


def _packed(fields: dict[bytes, bytes]) -> dict[bytes, bytes]:
    return {b"f": b"|".join(fields.get(k, b"") for k in PACKED_NAMES)}


PACKED_ODD = [_packed(f) for f in ODD] + [
    {b"f": b"1780000000|39.1|117.3||||||W0|001"},  # a "|" inside the worker id
    {b"f": b"1780000000|39.1|117.3|W0001"},  # too few parts
    {b"f": b"1780000000|39.1|117.3||||||W0001", b"w": b"W0002"},  # the packed field wins
]


@pytest.mark.parametrize("form", [ODD, PACKED_ODD, ODD + PACKED_ODD], ids=["named", "packed",
                                                                         "mixed"])
def test_the_columns_parse_every_entry_as_the_scalar_parser_does(svc, form):
    folder = Folder(svc.settings, svc.district, svc.days)
    entries = [(f"1780000000000-{i}".encode(), f) for i, f in enumerate(form)]
    refused, rows = parse_rows(entries, folder.own_of, svc.district)
    refused_by_pos = {i: f.reason for i, f in refused}
    kept = {int(a): k for k, a in enumerate(rows.at.tolist())}
    for i, (_eid, fields) in enumerate(entries):
        try:
            fix = fix_from_fields(fields)
        except InvalidInput as exc:
            assert refused_by_pos[i] == str(exc)
            continue
        if svc.district.worker(fix.worker) is None:
            assert refused_by_pos[i] == f"unknown worker: {fix.worker[:64]}"
            continue
        k = kept[i]
        assert (rows.workers[k], rows.ts[k], rows.lat[k], rows.lon[k]) == (
            fix.worker, fix.ts, fix.lat, fix.lon)
        assert (None if np.isnan(rows.speed[k]) else rows.speed[k]) == fix.speed
        assert (None if np.isnan(rows.battery[k]) else rows.battery[k]) == fix.battery
    assert len(refused) + len(rows.ids) == len(entries)


def test_stored_states_parse_as_unpack_reads_them():
    raw = [WorkerState("1780000000000-7", 1780000000.5, 39.1, 117.3, "G", 1, 1.25, 80,
                       1779990000, 39.0, 117.0).pack().encode(), None]
    s = parse_states(raw)
    assert s.has.tolist() == [True, False]
    assert (s.ts[0], s.lat[0], s.track_ts[0], s.track_lon[0]) == (1780000000.5, 39.1,
                                                                    1779990000, 117.0)
    assert entry_keys([b"1780000000000-7"])[1][0] == s.seq[0] == 7


def _plan_by_worker(plan):
    out = {}
    for k, w in enumerate(plan.workers):
        out[w] = (plan.expected[k], plan.states[k], plan.accepted[k],
                  sorted((d, b) for j, d, b in plan.tracks if j == k),
                  [d[1:] for d in plan.delta if d[0] == k])
    return out, [(row, w, f.entry_id, f.reason) for row, w, f in plan.failures]


@pytest.mark.parametrize("seed", range(6))
def test_the_array_fold_gives_what_the_scalar_fold_gives(svc, seed):
    """Random fixes against random stored states: redelivered, duplicate, older, jumps,
    standing, walking, another grid, another day, no speed, no battery."""
    rng = random.Random(seed)
    folder = Folder(svc.settings, svc.district, svc.days)
    now = 1_780_000_000.0
    workers = [w.id for w in svc.district.workers][:60]
    others = [w.id for w in svc.district.workers][60:80]
    stored, entries = {}, []
    for k, wid in enumerate(workers):
        lat, lon = _inside(svc, wid)
        prev_ms = int((now - rng.choice([30, 600, 86400])) * 1000)
        ts = rng.choice([prev_ms / 1000, prev_ms / 1000 - 5, prev_ms / 1000 + rng.uniform(1, 90)])
        if rng.random() < 0.8:
            t_ts = rng.choice([prev_ms / 1000 - 30, prev_ms / 1000 - 86400, prev_ms / 1000])
            stored[wid] = WorkerState(
                f"{prev_ms}-{rng.randrange(3)}", prev_ms / 1000, lat, lon, "x", 1, 0.5, 50,
                t_ts, lat + rng.choice([0, 1e-5, 3e-4]), lon).pack().encode()
        else:
            stored[wid] = None
        if rng.random() < 0.3:
            lat, lon = _inside(svc, rng.choice(others))  # in another grid, maybe a jump
        lat += rng.choice([0.0, 1e-5, 2e-4, 0.05])
        entry_ms = prev_ms + rng.choice([-1, 0, 1, 5000])
        extra = {}
        if rng.random() < 0.5:
            extra["s"] = f"{rng.choice([-1, 0.1, 1.5]):.2f}"
        if rng.random() < 0.5:
            extra["bt"] = "77.00"
        for rep in range(rng.choice([1, 1, 1, 2, 3])):  # some workers report several times
            f = _fields(w=wid, t=f"{ts + rep * 7:.3f}", la=f"{lat:.7f}", lo=f"{lon:.7f}",
                        **extra)
            entries.append((f"{entry_ms}-{k * 10 + rep}".encode(), f))
    rng.shuffle(entries)
    entries.sort(key=lambda e: entry_keys([e[0]])[0][0])  # stream order, mixed workers
    _refused, rows = parse_rows(entries, folder.own_of, svc.district)
    where = svc.locator.locate_many(rows.lon, rows.lat)
    fast = _plan_by_worker(folder.fold(rows, where, stored))
    slow = _plan_by_worker(folder.fold(rows, where, stored, scalar=True))
    assert fast == slow
    assert fast[1] and any(v[3] for v in fast[0].values())  # rejects and track points seen
