"""Exchange figures are plain, JSON-ready dicts built from data alone."""

from __future__ import annotations

import json

from dashboard.exchange_figures import call_curve, rolling_mean, sharing_donut


def test_the_rolling_mean_trails_over_fifteen_points():
    assert rolling_mean([15] * 20) == [15.0] * 20
    assert rolling_mean([0] * 14 + [15])[-1] == 1.0
    assert rolling_mean([3, 5], window=15) == [3.0, 4.0]


def test_the_curve_is_drawn_in_the_districts_wall_clock_time():
    t0 = 1_780_000_020_000  # 2026-05-29 04:27 in Tianjin
    fig = call_curve({"t0": t0, "step": 60_000, "n": [1, 2, 3], "e": [0, 1, 0]})
    calls, errors, mean = fig["data"]
    assert calls["x0"] == "2026-05-29 04:27:00" and calls["dx"] == 60_000
    assert (calls["y"], errors["y"]) == ([1, 2, 3], [0, 1, 0])
    assert mean["y"] == [1.0, 1.5, 2.0]
    assert fig["layout"]["xaxis"]["range"] == ["2026-05-29 04:27:00", "2026-05-29 04:29:00"]
    json.dumps(fig)


def test_the_donut_shows_each_class_and_the_total():
    split = [{"sharing": "conditional", "name": "有条件共享", "catalogs": 1156},
             {"sharing": "unconditional", "name": "无条件共享", "catalogs": 220},
             {"sharing": "not_shared", "name": "不予共享", "catalogs": 81}]
    fig = sharing_donut(split)
    assert fig["data"][0]["values"] == [1156, 220, 81]
    assert "1,457" in fig["layout"]["annotations"][0]["text"]
