"""UI strings: Chinese first, English available; pages ask t(key, lang)."""

from __future__ import annotations

STRINGS: dict[str, tuple[str, str]] = {
    "wall_title": ("大数据+党群网格 运行指挥中心", "Big Data + Party-Masses Grid Operations Center"),
    "connecting": ("连接中…", "connecting…"),
    "live": ("实时", "live"),
    "reconnecting": ("重连中…", "reconnecting…"),
    "online": ("在线网格员", "Workers online"),
    "patrolling": ("巡查中", "Patrolling"),
    "idle": ("待命", "Idle"),
    "outside": ("离开网格", "Outside own grid"),
    "offline": ("离线", "Offline"),
    "fixes_per_s": ("定位上报", "GPS fixes"),
    "per_s": ("条/秒", "/s"),
    "lag": ("处理延迟", "Processing lag"),
    "seconds": ("秒", "s"),
    "deadletters": ("异常数据", "Rejected records"),
    "streets": ("街道态势", "Streets"),
    "street": ("街道", "Street"),
    "workers": ("网格员", "Workers"),
    "rejections": ("异常数据原因", "Why records were rejected"),
    "no_data": ("暂无数据", "No data yet"),
    "people": ("人", ""),
}


def t(key: str, lang: str = "zh") -> str:
    """Return the UI string for a key in a language (zh or en); the key itself if unknown."""
    pair = STRINGS.get(key)
    if pair is None:
        return key
    return pair[1] if lang == "en" and pair[1] else pair[0]
