"""Data -> map layers and plotly figures for the pages; pure functions, no Redis."""

from __future__ import annotations

from dashboard.geo import boundaries_geojson, grid_geojson
from dashboard.models import District

STREET_FILLS = ["#12304f", "#1d2f4a", "#1b3b3a", "#33294a", "#3a2f1f", "#2a3140", "#203a2b"]

STATUS_COLORS = {
    "patrolling": "#22c55e",
    "idle": "#38bdf8",
    "outside": "#f59e0b",
    "offline": "#64748b",
}


def grid_layers(district: District) -> list[dict]:
    """Return one (street code, GeoJSON, style) layer per street, so each street gets a fill."""
    fc = grid_geojson(district)
    layers = []
    for i, street in enumerate(district.streets):
        feats = [f for f in fc["features"] if f["properties"]["street"] == street.code]
        style = {
            "color": "#3b5b80",
            "weight": 1,
            "fillColor": STREET_FILLS[i % len(STREET_FILLS)],
            "fillOpacity": 0.85,
        }
        layers.append(
            {
                "street": street.code,
                "data": {"type": "FeatureCollection", "features": feats},
                "style": style,
            }
        )
    return layers


MAX_POLYGONS = 2500  # more outlines than this clutter the wall and slow the browser


def wall_basemap(district: District) -> dict:
    """Return the wall's basemap: grids (filled per street), stations and streets as GeoJSON.

    Grids or stations are left out (None) when a city has more than MAX_POLYGONS of them.
    """
    grids = None
    if len(district.grids) <= MAX_POLYGONS:
        feats = []
        for layer in grid_layers(district):
            for f in layer["data"]["features"]:
                f["properties"]["fill"] = layer["style"]["fillColor"]
                feats.append(f)
        grids = {"type": "FeatureCollection", "features": feats}
    stations = (boundaries_geojson(district, "station")
                if len(district.stations) <= MAX_POLYGONS else None)
    return {"grids": grids, "stations": stations,
            "streets": boundaries_geojson(district, "street")}


def boundary_layer(district: District, level: str) -> dict:
    """Return the station or street boundaries as GeoJSON, to draw stronger than grids."""
    return boundaries_geojson(district, level)


def district_bounds(district: District) -> list[list[float]]:
    """Return [[south, west], [north, east]] around every grid."""
    lats = [lat for g in district.grids for _, lat in g.ring]
    lons = [lon for g in district.grids for lon, _ in g.ring]
    return [[min(lats), min(lons)], [max(lats), max(lons)]]


def _street_boxes(district: District) -> dict[str, list[float]]:
    """Return [min lat, min lon, max lat, max lon] of each street's grids, in one pass."""
    boxes: dict[str, list[float]] = {}
    for g in district.grids:
        lons, lats = [p[0] for p in g.ring], [p[1] for p in g.ring]
        b = boxes.get(g.street)
        if b is None:
            boxes[g.street] = [min(lats), min(lons), max(lats), max(lons)]
        else:
            b[0], b[1] = min(b[0], *lats), min(b[1], *lons)
            b[2], b[3] = max(b[2], *lats), max(b[3], *lons)
    return boxes


def _bbox(boxes: list[list[float]]) -> list[list[float]]:
    """Return the [[south, west], [north, east]] bounds around some street boxes."""
    return [[min(b[0] for b in boxes), min(b[1] for b in boxes)],
            [max(b[2] for b in boxes), max(b[3] for b in boxes)]]


def _area(b: list[list[float]]) -> float:
    return (b[1][0] - b[0][0]) * (b[1][1] - b[0][1])


def wall_map_groups(district: District, max_maps: int = 4) -> list[dict]:
    """Return the wall's maps: one per street when a few streets lie far apart, else one.

    A district whose gridded streets are scattered (as the two pilot streets, 12 km apart)
    would waste most of a single map on empty land, so each street gets its own map.
    """
    hit = _GROUPS.get((id(district), max_maps))
    if hit is not None and hit[0] is district:  # the layout and the config ask on every load
        return hit[1]
    groups = _map_groups(district, max_maps)
    if len(_GROUPS) > 8:  # districts replaced by grid edits
        _GROUPS.clear()
    _GROUPS[(id(district), max_maps)] = (district, groups)
    return groups


_GROUPS: dict[tuple[int, int], tuple[District, list[dict]]] = {}


def _map_groups(district: District, max_maps: int) -> list[dict]:
    boxes = _street_boxes(district)
    streets = [s for s in district.streets if s.code in boxes]
    whole = _bbox([boxes[s.code] for s in streets])
    parts = [(s, _bbox([boxes[s.code]])) for s in streets]
    if 1 < len(parts) <= max_maps and _area(whole) > 3 * sum(_area(b) for _, b in parts):
        return [
            {
                "id": f"wall-map-{i}",
                "streets": [s.code],
                "title": s.name,
                "title_en": s.name_en or s.name,
                "bounds": b,
            }
            for i, (s, b) in enumerate(parts)
        ]
    return [
        {
            "id": "wall-map-0",
            "streets": [s.code for s in streets],
            "title": district.name,
            "title_en": district.name_en or district.name,
            "bounds": whole,
        }
    ]
