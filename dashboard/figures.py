"""Data -> map layers and plotly figures for the pages; pure functions, no Redis."""

from __future__ import annotations

from dashboard.geo import boundaries_geojson, grid_geojson
from dashboard.models import District

STREET_FILLS = ["#12304f", "#1d2f4a", "#1b3b3a", "#33294a", "#3a2f1f", "#2a3140", "#203a2b"]

STATUS_COLORS = {"patrolling": "#22c55e", "idle": "#38bdf8", "outside": "#f59e0b",
                 "offline": "#64748b"}


def grid_layers(district: District) -> list[dict]:
    """Return one (street code, GeoJSON, style) layer per street, so each street gets a fill."""
    fc = grid_geojson(district)
    layers = []
    for i, street in enumerate(district.streets):
        feats = [f for f in fc["features"] if f["properties"]["street"] == street.code]
        style = {"color": "#3b5b80", "weight": 1, "fillColor": STREET_FILLS[i % len(STREET_FILLS)],
                 "fillOpacity": 0.85}
        layers.append({"street": street.code,
                       "data": {"type": "FeatureCollection", "features": feats}, "style": style})
    return layers


def boundary_layer(district: District, level: str) -> dict:
    """Return the station or street boundaries as GeoJSON, to draw stronger than grids."""
    return boundaries_geojson(district, level)


def district_bounds(district: District) -> list[list[float]]:
    """Return [[south, west], [north, east]] around every grid."""
    lats = [lat for g in district.grids for _, lat in g.ring]
    lons = [lon for g in district.grids for lon, _ in g.ring]
    return [[min(lats), min(lons)], [max(lats), max(lons)]]
