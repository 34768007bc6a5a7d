"""Exchange data -> plotly figures (plain dicts, JSON-ready) for the big screen; pure functions."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from dashboard.i18n import t

SHARING_COLORS = {"conditional": "#38bdf8", "unconditional": "#22c55e", "not_shared": "#f59e0b"}
CALLS, MEAN, ERRORS = "#2563eb", "#7dd3fc", "#ef4444"
MUTED, GRID, TEXT = "#8ea3c0", "#16233a", "#e6edf7"
MEAN_MINUTES = 15  # the smoothed line of the curve: mean of the last 15 minutes
FONT = '"Noto Sans CJK SC", "Noto Sans SC", "Microsoft YaHei", sans-serif'


def rolling_mean(values: list[int], window: int = MEAN_MINUTES) -> list[float]:
    """Return the trailing mean of each point over `window` points (fewer at the start)."""
    out, acc = [], 0
    for i, v in enumerate(values):
        acc += v
        if i >= window:
            acc -= values[i - window]
        out.append(round(acc / min(i + 1, window), 2))
    return out


def _local(ms: int, tz: str) -> str:
    """Return a Unix ms time as the district's wall-clock time, the way plotly's date axis
    shows it (plotly dates have no time zone)."""
    return datetime.fromtimestamp(ms / 1000, ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S")


def call_curve(series: dict, tz: str = "Asia/Shanghai", lang: str = "zh") -> dict:
    """Return the live curve: calls per minute (area), its 15-minute mean, errors per minute."""
    n, e, step = series["n"], series["e"], series["step"]
    x0 = _local(series["t0"], tz)
    end = _local(series["t0"] + step * max(len(n) - 1, 1), tz)
    common = {"type": "scatter", "mode": "lines", "x0": x0, "dx": step, "hoverinfo": "skip"}
    bars = {"type": "bar", "x0": x0, "dx": step, "hoverinfo": "skip", "marker": {"line":
            {"width": 0}}}
    data = [
        bars | {"name": t("xc_curve_calls", lang), "y": n,
                "marker": {"color": "rgba(59,130,246,0.42)", "line": {"width": 0}}},
        bars | {"name": t("xc_curve_errors", lang), "y": e,
                "marker": {"color": ERRORS, "line": {"width": 0}}},
        common | {"name": t("xc_curve_mean", lang), "y": rolling_mean(n),
                  "line": {"color": MEAN, "width": 3, "shape": "spline", "smoothing": 0.6}},
    ]
    layout = {
        "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"family": FONT, "color": MUTED, "size": 17},
        "margin": {"l": 56, "r": 16, "t": 8, "b": 40}, "uirevision": "curve",
        "showlegend": True, "hovermode": False, "barmode": "overlay", "bargap": 0,
        "legend": {"orientation": "h", "x": 1, "xanchor": "right", "y": 1.0, "yanchor": "bottom",
                   "font": {"size": 17, "color": TEXT}, "bgcolor": "rgba(0,0,0,0)"},
        "xaxis": {"type": "date", "range": [x0, end], "tickformat": "%H:%M", "dtick": 7_200_000,
                  "gridcolor": GRID, "linecolor": GRID, "zeroline": False, "fixedrange": True},
        "yaxis": {"rangemode": "tozero", "gridcolor": GRID, "zeroline": False, "fixedrange": True,
                  "nticks": 5},
    }
    return {"data": data, "layout": layout}


def sharing_donut(split: list[dict], lang: str = "zh") -> dict:
    """Return the sharing-class donut: catalogs per class, the total in the hole."""
    total = sum(r["catalogs"] for r in split)
    data = [{"type": "pie", "hole": 0.64, "sort": False, "direction": "clockwise",
             "labels": [r["name"] for r in split], "values": [r["catalogs"] for r in split],
             "marker": {"colors": [SHARING_COLORS[r["sharing"]] for r in split],
                        "line": {"color": "#0c1526", "width": 3}},
             "textinfo": "none", "hoverinfo": "skip"}]
    layout = {
        "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"family": FONT, "color": TEXT}, "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
        "showlegend": False,
        "annotations": [{"text": f"<b>{total:,}</b><br><span style='font-size:15px;color:{MUTED}'>"
                                 f"{t('xc_catalogs', lang)}</span>",
                         "showarrow": False, "font": {"size": 30, "color": TEXT}}],
    }
    return {"data": data, "layout": layout}
