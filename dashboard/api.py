"""The read-side HTTP API: workers, tracks, health, the wall's roster; JSON only."""

from __future__ import annotations

import json
import re
import threading

from flask import Blueprint, current_app, jsonify, request

from dashboard import queries
from dashboard.models import District
from dashboard.services import Services

bp = Blueprint("api", __name__, url_prefix="/api/v1")

DAY = re.compile(r"^\d{8}$")


def services() -> Services:
    """Return the services of the running app."""
    return current_app.extensions["gridwall"]


@bp.get("/workers")
def workers():
    """List every worker with position, status and grid."""
    return jsonify(queries.workers(services()))


@bp.get("/workers/<wid>")
def worker(wid: str):
    """Return one worker, 404 if unknown."""
    out = queries.worker(services(), wid)
    if out is None:
        return jsonify({"error": f"unknown worker: {wid[:64]}"}), 404
    return jsonify(out)


@bp.get("/workers/<wid>/track")
def worker_track(wid: str):
    """Return a worker's track of a day (?day=YYYYMMDD, default today) as [ts, lat, lon] rows."""
    svc = services()
    if svc.district.worker(wid) is None:
        return jsonify({"error": f"unknown worker: {wid[:64]}"}), 404
    day = request.args.get("day") or svc.days.day(svc.clock.now())
    if not DAY.fullmatch(day):
        return jsonify({"error": "day must be YYYYMMDD"}), 400
    return jsonify({"worker": wid, "day": day, "points": queries.track(svc, wid, day)})


@bp.get("/health")
def health():
    """Return Redis status, consumer lag and dead letters; 503 when Redis is down."""
    out, ok = queries.health(services())
    return jsonify(out), (200 if ok else 503)


@bp.get("/wall/roster")
def roster():
    """Return the static worker roster for the wall map: id -> [name, grid name, own grid]."""
    svc = services()
    grids = {g.code: g.name for g in svc.district.grids}
    return jsonify({w.id: [w.name, grids.get(w.grid, ""), w.grid] for w in svc.district.workers})


@bp.get("/wall/config")
def wall_config():
    """Return what the wall's client needs once: map extents, offline threshold, language."""
    from dashboard.figures import wall_map_groups

    svc = services()
    return jsonify(
        {
            "maps": {g["id"]: g["bounds"] for g in wall_map_groups(svc.district)},
            "offlineAfter": svc.settings.offline_after_s,
            "lang": svc.settings.lang,
        }
    )


@bp.get("/wall/basemap")
def wall_basemap():
    """Return the grid, station and street outlines of the wall maps (cached per process)."""
    return current_app.response_class(basemap_json(services()), mimetype="application/json",
                                      headers={"Cache-Control": "max-age=300"})


def basemap_json(svc: Services) -> str:
    """Return the basemap GeoJSON text, built once per process (seconds for a whole city)
    unless the process was given it (gunicorn's workers inherit the master's)."""
    body = svc.extra.get("wall_basemap")
    if body is None:
        with svc.extra.setdefault("wall_basemap.lock", threading.Lock()):  # one build at a time
            body = svc.extra.get("wall_basemap")
            if body is None:
                body = build_basemap_json(svc.district)
                svc.extra["wall_basemap"] = body
    return body


def build_basemap_json(district: District) -> str:
    """Return the basemap GeoJSON text of a district."""
    from dashboard.figures import wall_basemap as build

    return json.dumps(build(district), ensure_ascii=False)


@bp.get("/wall/trails")
def trails():
    """Return today's thinned tracks of workers patrolling now (at most 60 points each)."""
    return jsonify(queries.patrol_trails(services()))
