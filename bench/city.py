"""A synthetic city for load and benchmarks: N square grids on a lattice, one worker each."""

from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path

from dashboard.config import ROOT

CELL_DEG = 0.003  # about 330 m x 260 m at 39 N


def make_city(folder: Path, n_grids: int, per_station: int = 10, per_street: int = 200) -> Path:
    """Write a district folder with n_grids square grids and workers W00001..; return it."""
    folder.mkdir(parents=True, exist_ok=True)
    side = math.ceil(math.sqrt(n_grids))
    lat0, lon0 = 39.0, 117.2
    feats, workers, stations, streets = [], [], {}, {}
    for i in range(n_grids):
        row, col = divmod(i, side)
        s, w = lat0 + row * CELL_DEG, lon0 + col * CELL_DEG
        ring = [
            [round(w, 6), round(s, 6)],
            [round(w + CELL_DEG, 6), round(s, 6)],
            [round(w + CELL_DEG, 6), round(s + CELL_DEG, 6)],
            [round(w, 6), round(s + CELL_DEG, 6)],
            [round(w, 6), round(s, 6)],
        ]
        street = f"S{i // per_street:03d}"
        station = f"{street}-{(i % per_street) // per_station:02d}"
        code = f"{station}-{i % per_station:02d}"
        streets[street] = street
        stations[station] = street
        feats.append(
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": {
                    "code": code,
                    "name": f"网格{i + 1}",
                    "street": street,
                    "station": station,
                    "households": 400,
                },
            }
        )
        workers.append((f"W{i + 1:05d}", f"网格员{i + 1}", code, int(i % 5 == 0), f"139{i:08d}"))
    (folder / "grids.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": feats})
    )
    (folder / "district.json").write_text(
        json.dumps(
            {
                "code": "999999",
                "name": "压测城区",
                "name_en": "Load-test City",
                "center": [lat0 + side * CELL_DEG / 2, lon0 + side * CELL_DEG / 2],
            }
        )
    )
    _csv(folder / "streets.csv", ["code", "name", "name_en"], [(s, f"街道{s}", s) for s in streets])
    _csv(
        folder / "stations.csv",
        ["code", "name", "street", "leader"],
        [(c, f"网格站{c}", s, "站长") for c, s in stations.items()],
    )
    _csv(folder / "workers.csv", ["id", "name", "grid", "party_member", "phone"], workers)
    src = ROOT / "data" / "districts" / "dongli"
    for extra in src.iterdir():  # departments, catalogs, rules ... of the default district
        if (
            extra.name
            not in {
                "grids.geojson",
                "district.json",
                "streets.csv",
                "stations.csv",
                "workers.csv",
                "residents.parquet",
            }
            and extra.is_file()
        ):
            shutil.copy(extra, folder / extra.name)
    _fix_departments(folder, list(streets))
    return folder


def _fix_departments(folder: Path, streets: list[str]) -> None:
    path = folder / "departments.csv"
    with path.open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    for r in rows:  # keep the 40 units (catalogs name them) but give streets new offices
        if r["kind"] == "street":
            r["street"] = ""
    depts = rows
    offices = [{"code": f"st-{s}", "name": f"街道{s}办事处", "name_en": f"{s} office",
                "kind": "street", "street": s} for s in streets]
    _csv(path, list(rows[0]), [[r[k] for k in rows[0]] for r in depts + offices])


def _csv(path: Path, header: list[str], rows) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def grid_center(district, wid: str) -> tuple[float, float]:
    """Return (lat, lon) of the centre of a worker's grid."""
    g = district.grid(district.worker(wid).grid)
    lons = [p[0] for p in g.ring[:-1]]
    lats = [p[1] for p in g.ring[:-1]]
    return sum(lats) / len(lats), sum(lons) / len(lons)
