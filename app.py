"""Gridwall: the app factory and the command line (run, consume, simulate, apikey, ...)."""

from __future__ import annotations

import argparse
import logging
import sys

import redis
from dash import Dash
from flask import request
from flask_socketio import SocketIO, join_room

from dashboard.clock import Clock
from dashboard.config import Settings, load_settings, settings_table
from dashboard.services import Services, build_services


def create_app(settings: Settings | None = None, services: Services | None = None,
               clock: Clock | None = None, start_relay: bool = True) -> tuple[Dash, SocketIO]:
    """Build the Dash app and its SocketIO server; nothing runs until the caller serves it."""
    from dashboard import api, panels
    from dashboard.push import WALL_ROOM, Relay
    from streams import ingest

    settings = settings or load_settings()
    svc = services or build_services(settings, clock=clock)
    app = Dash(__name__, use_pages=True, pages_folder="layouts", title="Gridwall 网格运行指挥中心",
               suppress_callback_exceptions=True, serve_locally=True, update_title=None,
               assets_ignore=r".*\.map$")
    html_lang = "en" if settings.lang == "en" else "zh-CN"
    app.index_string = app.index_string.replace("<html>", f'<html lang="{html_lang}">', 1)
    server = app.server
    server.extensions["gridwall"] = svc
    server.config["SECRET_KEY"] = settings.secret_key or __import__("secrets").token_hex(32)
    # Dash names every asset URL by its file's mtime (?m=...): a browser may keep it a day
    # instead of asking again on every page load.
    server.config["SEND_FILE_MAX_AGE_DEFAULT"] = 86400
    server.register_blueprint(ingest.bp)
    server.wsgi_app = ingest.OsmandFastPath(server.wsgi_app, svc)  # phones' one-fix requests
    server.register_blueprint(api.bp)
    from dashboard import case_api
    from dashboard.catalog import catalog_for
    from streams import open311

    catalog_for(svc)  # a malformed patrol item catalog fails here, at start-up
    server.register_blueprint(open311.bp)
    server.register_blueprint(case_api.bp)
    from dashboard import exchange_api, exchange_queries
    from streams import calls_ingest

    exchange_queries.registry(svc)  # malformed exchange registry files fail here, at start-up
    if settings.auth_required and not settings.exchange_gateway_keys.strip():
        logging.getLogger("gridwall").warning(
            "EXCHANGE_GATEWAY_KEYS is empty: anyone who reaches this server can post calls")
    server.register_blueprint(calls_ingest.bp)
    server.register_blueprint(exchange_api.bp)
    from dashboard import people, people_api

    people.people(svc)  # malformed people rule files (issue 5) fail here, at start-up
    server.register_blueprint(people_api.bp)
    from dashboard import auth_routes, exports, grid_edit

    auth_routes.init_app(app)  # login, the access guard on every request, CSRF (issue 6)
    server.register_blueprint(exports.bp)
    grid_edit.apply_overlay(svc)  # supervisors' grid boundary corrections over the files
    from dashboard import metrics
    from dashboard.push import FastJson, FastPacket, RedisQueue

    shared = settings.web_workers > 1  # several web processes: panel pushes via Redis
    queue = {"client_manager": RedisQueue(settings, svc.keys.push_queue())} if shared else {}
    socketio = SocketIO(server, async_mode="threading", cors_allowed_origins=[],
                        message_queue=None, logger=False, engineio_logger=False,
                        json=FastJson, serializer=FastPacket, **queue)
    relay = Relay(svc, socketio, shared=shared)
    metrics.init_app(server, svc, relay.stop if start_relay else None)  # /metrics (issue 7)
    panels.register(relay)
    server.extensions["gridwall.relay"] = relay

    @socketio.on("connect")
    def _connect(auth=None):  # noqa: ANN001 - socket.io signature
        """Put a new browser in the wall room and send it a full snapshot."""
        from dashboard import queries

        if start_relay and not relay.wait_up(10.0):
            return False  # Redis is down: the wall shows "reconnecting" and asks again
        if not auth_routes.may_connect_socket():
            return False  # only district supervisors and wall kiosks watch the live wall
        try:
            snap = (relay.mirror.snapshot(svc.clock.now()) if relay.connected
                    else queries.map_snapshot(svc))
        except redis.RedisError:
            return False  # Redis went away again: refused, the browser asks again
        join_room(WALL_ROOM)
        socketio.emit("gps", snap, to=request.sid, ignore_queue=True)
        for event, payload in relay.cached():
            socketio.emit(event, payload, to=request.sid, ignore_queue=True)

    relay.on_topic("grids", lambda msg: grid_edit.on_notice(svc, relay.local, msg))
    if start_relay:
        relay.start()
        from dashboard.api import basemap_json

        socketio.start_background_task(basemap_json, svc)  # ready before the first wall asks
    return app, socketio


def _parser() -> argparse.ArgumentParser:
    rows = "\n".join(f"  {n:<26} {d!s:<28} {h}" for n, d, h in settings_table())
    p = argparse.ArgumentParser(
        prog="app.py", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Gridwall, the real-time operations center of grid-based governance.",
        epilog="environment variables (default, meaning):\n" + rows)
    sub = p.add_subparsers(dest="cmd")
    run = sub.add_parser("run", help="embedded Redis + consumers + simulator + web (the demo)")
    run.add_argument("--district", help="district folder (DISTRICT)")
    run.add_argument("--no-simulate", action="store_true", help="do not start the simulator")
    run.add_argument("--speed", type=float, help="simulated seconds per real second (SIM_SPEED)")
    run.add_argument("--port", type=int, help="HTTP port (PORT)")
    run.add_argument("--workers", type=int, help="simulate only this many workers (SIM_WORKERS)")
    web = sub.add_parser("web", help="serve the web app only (needs REDIS_URL)")
    web.add_argument("--port", type=int)
    con = sub.add_parser("consume", help="run stream consumers (needs REDIS_URL)")
    con.add_argument("streams", nargs="*", default=["all"], help="gps, ... or all")
    con.add_argument("--name", help="consumer name (default host-pid)")
    con.add_argument("--skip", nargs="*", default=[], help="streams not to consume (with all)")
    sub.add_parser("jobs", help="run the periodic jobs: assessment, points, service rules, "
                   "archive, trim (needs REDIS_URL)")
    key = sub.add_parser("apikey", help="issue, list or revoke API keys (Open311, departments)")
    key.add_argument("action", choices=["create", "list", "revoke"])
    key.add_argument("name", nargs="?", default="", help="who the key is for")
    key.add_argument("--role", default="", help="open311 (default), dept or supervisor")
    key.add_argument("--dept", default="", help="department code of a dept key")
    usr = sub.add_parser("users", help="add, list or remove supervisors' and kiosks' logins")
    usr.add_argument("action", choices=["add", "list", "remove"])
    usr.add_argument("name", nargs="?", default="")
    usr.add_argument("--role", default="", help="district, street, department or wall")
    usr.add_argument("--street", default="", help="street code of a street supervisor")
    usr.add_argument("--dept", default="", help="department code of a department operator")
    usr.add_argument("--password", default="", help="default: asked for (or GW_PASSWORD)")
    wt = sub.add_parser("walltoken", help="create, list or revoke kiosk wall tokens")
    wt.add_argument("action", choices=["create", "list", "revoke"])
    wt.add_argument("name", nargs="?", default="")
    dl = sub.add_parser("deadletters", help="list or replay entries the consumers refused")
    dl.add_argument("action", choices=["list", "replay"])
    dl.add_argument("--stream", help="one logical stream (gps, events, calls, ...); default all")
    dl.add_argument("--ids", nargs="*", default=[], help="dead-letter entry ids (default all)")
    dl.add_argument("--reason", default="", help="only reasons starting with this text")
    dl.add_argument("--limit", type=int, default=100000, help="at most this many entries")
    dl.add_argument("--dry-run", action="store_true", help="replay: only say what would happen")
    sim = sub.add_parser("simulate", help="run the district simulator against a running app")
    sim.add_argument("--speed", type=float)
    sim.add_argument("--url", default="", help="base URL of the app (default http://HOST:PORT)")
    sim.add_argument("--workers", type=int)
    return p


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the command."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    args = _parser().parse_args(argv)
    over = {}
    for name in ("district", "port", "speed", "workers"):
        val = getattr(args, name, None)
        if val is not None:
            over[{"speed": "sim_speed", "workers": "sim_workers"}.get(name, name)] = val
    if getattr(args, "no_simulate", False):
        over["simulate"] = False
    settings = load_settings(**over)
    from streams import runner

    if args.cmd == "run":
        return runner.run_all(settings)
    if args.cmd == "web":
        return runner.run_web(settings)
    if args.cmd == "consume":
        return runner.run_consumers(settings, args.streams, args.name, args.skip)
    if args.cmd == "jobs":
        return runner.run_jobs(settings)
    if args.cmd == "apikey":
        return _apikey(settings, args)
    if args.cmd == "simulate":
        return runner.run_simulator(settings, args.url)
    if args.cmd == "deadletters":
        from streams.deadletters import run_cli

        return run_cli(build_services(settings), args.action, args.stream, args.ids, args.reason,
                       args.limit, args.dry_run)
    if args.cmd in ("users", "walltoken"):
        from dashboard.auth_cli import run as auth_cli

        return auth_cli(settings, args)
    _parser().print_help()
    return 2


def _apikey(settings: Settings, args: argparse.Namespace) -> int:
    """Run `apikey create NAME [--dept CODE | --role supervisor]`, `apikey list`, `revoke NAME`."""
    from dashboard import apikeys

    svc = build_services(settings)
    if args.action == "list":
        for k in apikeys.listing(svc):
            print(f"{k['role']:<11} {k['dept']:<18} {k['name']}")
        return 0
    if not args.name:
        print(f"apikey {args.action} needs a NAME")
        return 2
    if args.action == "revoke":
        print(f"revoked {apikeys.revoke(svc, args.name)} key(s) of {args.name}")
        return 0
    role = args.role or ("dept" if args.dept else "open311")
    try:
        print(apikeys.create(svc, args.name, role, args.dept))
    except ValueError as exc:
        print(f"error: {exc}")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
