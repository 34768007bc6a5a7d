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
    # ---- cases (issue 3)
    "case_reports_today": ("今日上报", "Reports today"),
    "case_open": ("在办案件", "Open cases"),
    "case_overdue": ("超期未办", "Overdue"),
    "case_ontime": ("今日按期率", "On time today"),
    "cases_unit": ("件", ""),
    "overdue_alerts": ("超期告警", "Overdue alerts"),
    "dept_ranking": ("部门处置排名", "Department ranking"),
    "urgent": ("紧急", "Urgent"),
    "normal": ("一般", "Normal"),
    "routine": ("常规", "Routine"),
    "case_legend": ("案件", "Cases"),
}


def t(key: str, lang: str = "zh") -> str:
    """Return the UI string for a key in a language (zh or en); the key itself if unknown."""
    pair = STRINGS.get(key)
    if pair is None:
        return key
    return pair[1] if lang == "en" and pair[1] else pair[0]
