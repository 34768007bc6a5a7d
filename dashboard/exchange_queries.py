"""Redis -> plain data for the exchange page and API: one function per panel or endpoint."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from dashboard.exchange import LATENCY_BOUNDS_MS, SHARING, Approval, Registry, load_registry
from dashboard.i18n import t
from dashboard.services import Services

CURVE_MINUTES = 1440  # the live curve: the last 24 h, per minute


def registry(svc: Services) -> Registry:
    """Return the exchange registry of the district, loaded once per process."""
    reg = svc.extra.get("exchange.registry")
    if reg is None:
        reg = load_registry(svc.settings.district, svc.district, svc.settings.tz)
        svc.extra["exchange.registry"] = reg
    return reg


def granted_approvals(svc: Services) -> list[Approval]:
    """Return the approvals granted through the API."""
    return [Approval.from_json(v) for v in svc.r.hvals(svc.keys.exchange_approvals())]


def _ints(raw: dict) -> Counter:
    return Counter({k.decode(): int(v) for k, v in raw.items()})


def _sum(svc: Services, keys: list[str]) -> Counter:
    """Return the field-wise sum of several counter hashes."""
    pipe = svc.r.pipeline(transaction=False)
    for k in keys:
        pipe.hgetall(k)
    out: Counter = Counter()
    for raw in pipe.execute():
        out.update(_ints(raw))
    return out


def _minutes(svc: Services, seconds: int) -> range:
    """Return the Unix minutes of the last `seconds`, the current one included."""
    now_m = int(svc.clock.now() // 60)
    return range(now_m - max(1, seconds // 60) + 1, now_m + 1)


def window(svc: Services, dim: str, seconds: int) -> Counter:
    """Return a dimension's counts over the last `seconds` from minute buckets."""
    return _sum(svc, [svc.keys.calls_bucket("m", m, dim) for m in _minutes(svc, seconds)])


def today(svc: Services, dim: str) -> Counter:
    """Return a dimension's counts of the local day."""
    return _ints(svc.r.hgetall(svc.keys.calls_bucket("d", svc.days.day(svc.clock.now()), dim)))


def ever(svc: Services, dim: str) -> Counter:
    """Return a dimension's all-time counts."""
    return _ints(svc.r.hgetall(svc.keys.calls_total(dim)))


def percentile(hist: dict[int, int], q: float) -> float | None:
    """Return the q-quantile (0–1) of a latency histogram {bin: count}, interpolated in its bin."""
    total = sum(hist.values())
    if not total:
        return None
    rank, seen = q * total, 0
    for b in range(len(LATENCY_BOUNDS_MS) + 1):
        c = hist.get(b, 0)
        if c and seen + c >= rank:
            lo = LATENCY_BOUNDS_MS[b - 1] if b else 0
            if b == len(LATENCY_BOUNDS_MS):
                return float(lo)
            return lo + (LATENCY_BOUNDS_MS[b] - lo) * max(0.0, rank - seen) / c
        seen += c
    return float(LATENCY_BOUNDS_MS[-1])


def latency_histograms(counts: Counter) -> dict[str, dict[int, int]]:
    """Split the 'l' dimension's fields '<interface>:<bin>' into per-interface histograms."""
    out: dict[str, dict[int, int]] = {}
    for field, n in counts.items():
        iface, _, b = field.rpartition(":")
        out.setdefault(iface, {})[int(b)] = n
    return out


# ---- panels ---------------------------------------------------------------------------------
def totals(svc: Services) -> dict:
    """Return the KPI strip: registry sizes, calls today and ever, errors and violations today."""
    reg = registry(svc)
    day, all_ = today(svc, "n"), ever(svc, "n")
    return {"catalogs": len(reg.catalogs), "items": reg.items, "interfaces": len(reg.interfaces),
            "units": len(reg.units), "calls_today": day["n"], "calls_total": all_["n"],
            "errors_today": day["e"], "violations_today": day["v"],
            "violations_total": all_["v"], "now": svc.clock.now()}


def curve(svc: Services, minutes: int = CURVE_MINUTES) -> dict:
    """Return calls and errors per minute of the last `minutes`, oldest first, for the curve."""
    span = _minutes(svc, minutes * 60)
    pipe = svc.r.pipeline(transaction=False)
    for m in span:
        pipe.hmget(svc.keys.calls_bucket("m", m, "n"), "n", "e")
    rows = pipe.execute()
    return {"t0": span.start * 60_000, "step": 60_000,
            "n": [int(n or 0) for n, _ in rows], "e": [int(e or 0) for _, e in rows]}


def curve_panel(svc: Services) -> dict:
    """Return the live curve's figure."""
    from dashboard.exchange_figures import call_curve

    return call_curve(curve(svc), svc.settings.tz, svc.settings.lang)


def interface_ranking(svc: Services) -> list[dict]:
    """Return every interface by calls ever, with today's calls, error rate and p95 latency."""
    reg, lang = registry(svc), svc.settings.lang
    all_, day = ever(svc, "i"), today(svc, "i")
    hist = latency_histograms(today(svc, "l"))
    rows = []
    for code in reg.interfaces:
        calls = day[code]
        p95 = percentile(hist.get(code, {}), 0.95)
        rows.append({"code": code, "name": reg.interface_name(code, lang), "calls": all_[code],
                     "today": calls,
                     "error_rate": round(day[code + ":e"] / calls, 4) if calls else None,
                     "p95_ms": None if p95 is None else round(p95)})
    return sorted(rows, key=lambda r: (-r["calls"], r["code"]))


def unit_calls(svc: Services, limit: int = 8) -> dict:
    """Return the units that made and that served the most calls ever."""
    reg, lang = registry(svc), svc.settings.lang

    def top(counts: Counter) -> list[dict]:
        units = [(u, n) for u, n in counts.items() if ":" not in u]
        units.sort(key=lambda x: (-x[1], x[0]))
        return [{"unit": u, "name": reg.unit_name(u, lang), "calls": n} for u, n in units[:limit]]

    return {"made": top(ever(svc, "c")), "served": top(ever(svc, "p"))}


def mounted(svc: Services, limit: int = 12) -> list[dict]:
    """Return the units mounting the most catalogs, with their information items."""
    rows = registry(svc).mounted()[:limit]
    lang = svc.settings.lang
    return [r | {"name": registry(svc).unit_name(r["unit"], lang)} for r in rows]


def sharing_split(svc: Services) -> list[dict]:
    """Return catalogs per sharing class with their share in percent."""
    counts = registry(svc).sharing_counts()
    total = sum(counts.values()) or 1
    return [{"sharing": c, "name": t(f"sharing_{c}", svc.settings.lang), "catalogs": counts[c],
             "percent": round(100 * counts[c] / total, 2)} for c in SHARING]


def when_label(svc: Services, ts: float) -> str:
    """Return a time as the wall shows it: HH:MM:SS today, with the month and day before."""
    local = datetime.fromtimestamp(ts, svc.days.tz)
    if svc.days.day(ts) == svc.days.day(svc.clock.now()):
        return local.strftime("%H:%M:%S")
    return local.strftime("%m-%d %H:%M" if svc.settings.lang == "en" else "%m月%d日 %H:%M")


def violations(svc: Services, limit: int = 20) -> list[dict]:
    """Return the latest violations, newest first, with unit, interface and catalog names."""
    reg, lang = registry(svc), svc.settings.lang
    out = []
    for vid, f in svc.r.xrevrange(svc.keys.calls_violations(), count=limit):
        d = {k.decode(): v.decode() for k, v in f.items()}
        cat = reg.catalogs.get(d["k"])
        out.append({"id": vid.decode(), "entry": d["id"], "time": float(d["t"]),
                    "when": when_label(svc, float(d["t"])),
                    "caller": d["c"], "caller_name": reg.unit_name(d["c"], lang),
                    "provider": d["p"], "provider_name": reg.unit_name(d["p"], lang),
                    "interface": d["i"], "interface_name": reg.interface_name(d["i"], lang),
                    "catalog": d["k"], "catalog_name": cat.name if cat else d["k"],
                    "kind": d["v"], "kind_name": t(f"violation_{d['v']}", lang)})
    return out


def error_alerts(svc: Services) -> list[dict]:
    """Return the interfaces whose error rate over the alert window is at or above the limit."""
    s, reg = svc.settings, registry(svc)
    win = window(svc, "i", s.exchange_alert_window_s)
    out = []
    for code in reg.interfaces:
        calls, errors = win[code], win[code + ":e"]
        if calls >= s.exchange_alert_min_calls and errors / calls >= s.exchange_alert_error_rate:
            out.append({"interface": code, "name": reg.interface_name(code, s.lang),
                        "calls": calls, "errors": errors, "rate": round(errors / calls, 4)})
    return sorted(out, key=lambda a: -a["rate"])


def alerts(svc: Services) -> dict:
    """Return the alert panel: latest violations, violations today, error-rate alerts."""
    return {"violations": violations(svc, 10), "violations_today": today(svc, "n")["v"],
            "errors": error_alerts(svc), "window_s": svc.settings.exchange_alert_window_s}


def rankings(svc: Services) -> dict:
    """Return the live rankings pushed together: interfaces and units by calls."""
    return {"interfaces": interface_ranking(svc), **unit_calls(svc)}
