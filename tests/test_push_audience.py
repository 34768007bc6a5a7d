"""The wall's periodic panels are computed while some wall watches, never for an empty room."""

from __future__ import annotations

import time

import socketio
from scale_helpers import wait_for


def _relay(live_app):
    return live_app.app.server.extensions["gridwall.relay"]


def test_no_panel_is_computed_while_no_wall_is_connected(live_app):
    relay = _relay(live_app)
    time.sleep(2.5)  # the kpi panel is due every second
    assert [p.event for p in relay.periodic if p.at] == []


def test_a_wall_that_connects_gets_every_panel_and_they_are_then_kept_fresh(live_app):
    relay = _relay(live_app)
    wall = socketio.Client(reconnection=False)
    got: set[str] = set()
    for p in relay.periodic:
        wall.on(p.event, lambda _payload, event=p.event: got.add(event))
    wall.connect(live_app.url, transports=["websocket"], wait_timeout=10)
    try:
        wait_for(lambda: got >= {p.event for p in relay.periodic}, 15, "every panel pushed")
        kpi = next(p for p in relay.periodic if p.event == "kpi")
        first = kpi.at
        wait_for(lambda: kpi.at > first, 5, "the kpi panel recomputed while watched")
    finally:
        wall.disconnect()
