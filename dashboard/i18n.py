"""UI strings: Chinese first, English available; pages ask t(key, lang)."""

from __future__ import annotations

STRINGS: dict[str, tuple[str, str]] = {
    "wall_title": ("大数据+党群网格 运行指挥中心",
                   "Big Data + Party-Masses Grid Operations Center"),
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
    "rejections": ("异常数据原因", "Rejection reasons"),
    "no_data": ("暂无数据", "No data yet"),
    "people": ("人", ""),
    # ---- exchange (issue 4)
    "exchange_title": ("数据共享交换平台 运行监测", "Data-Sharing Exchange Monitor"),
    "xc_catalogs": ("数据目录", "Data catalogs"),
    "xc_items": ("信息项", "Information items"),
    "xc_interfaces": ("接入接口", "Interfaces"),
    "xc_units": ("接入单位", "Units"),
    "xc_calls_today": ("今日调用", "Calls today"),
    "xc_calls_total": ("累计调用", "Calls in total"),
    "xc_unit_count": ("个", ""),
    "xc_unit_items": ("项", ""),
    "xc_unit_calls": ("次", ""),
    "xc_unit_units": ("家", ""),
    "xc_mounted": ("部门挂接资源排名", "Units by mounted resources"),
    "xc_rank_unit": ("单位", "Unit"),
    "xc_col_catalogs": ("数据目录", "Cat."),
    "xc_col_items": ("信息项", "Items"),
    "xc_sharing": ("共享类型占比", "Sharing classes"),
    "sharing_unconditional": ("无条件共享", "Unconditional"),
    "sharing_conditional": ("有条件共享", "Conditional"),
    "sharing_not_shared": ("不予共享", "Not shared"),
    "xc_curve": ("实时调用监测 · 近24小时每分钟调用次数", "Calls per minute, last 24 hours"),
    "xc_curve_calls": ("调用", "Calls"),
    "xc_curve_errors": ("失败", "Errors"),
    "xc_curve_mean": ("15分钟均值", "15-min mean"),
    "xc_interface_rank": ("接口调用次数与类型排名", "Interfaces by calls"),
    "xc_unit_rank": ("单位调用排名", "Units by calls"),
    "xc_made": ("调用数据", "Calls made"),
    "xc_served": ("提供数据", "Calls served"),
    "xc_alerts": ("违规调用与异常告警", "Violations and alerts"),
    "xc_violations_today": ("今日违规", "Violations today"),
    "violation_not_shared": ("调用不予共享目录", "Read a not-shared catalog"),
    "violation_no_approval": ("未经申请批准", "No approved application"),
    "xc_error_rate": ("失败率", "error rate"),
    "xc_all_clear": ("运行正常 · 暂无告警", "All clear"),
    "xc_today": ("今日", "today"),
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
    # ---- people (issue 5)
    "people_title": ("党群服务与网格员考核", "Party-Masses Service and Worker Assessment"),
    "pp_pushed": ("今日推送服务", "Services pushed today"),
    "pp_done": ("今日完成服务", "Services done today"),
    "pp_overdue": ("逾期未办", "Overdue"),
    "pp_double": ("今日双巡达标", "Two patrols today"),
    "pp_score": ("今日平均考核分", "Mean score today"),
    "pp_anomalies": ("今日异常告警", "Anomalies today"),
    "pp_points_board": ("党员积分排行 · 本月", "Party-member points · this month"),
    "pp_assess_rank": ("网格员考核排名 · 今日", "Workers by score · today"),
    "pp_station_rank": ("网格站考核均分", "Stations by mean score"),
    "pp_anomaly_feed": ("考核异常告警", "Worker anomalies"),
    "pp_tasks_by_rule": ("主动服务推送 · 今日", "Proactive services · today"),
    "pp_col_rule": ("服务事项", "Service"),
    "pp_col_pushed": ("推送", "Pushed"),
    "pp_col_done": ("完成", "Done"),
    "pp_col_overdue": ("逾期", "Overdue"),
    "pp_col_open": ("待办", "Open"),
    "pp_points": ("分", "pts"),
    "pp_tasks_unit": ("件", ""),
    "pp_people_unit": ("人", ""),
    "pp_worker": ("网格员", "Worker"),
    "pp_resident": ("居民党员", "Resident"),
    "anomaly_no_patrol": ("未按时巡查", "No patrol by cut-off"),
    "anomaly_outside": ("长时间离开网格", "Long outside own grid"),
    "anomaly_still": ("巡查中长时间静止", "Standing still on patrol"),
    "anomaly_impossible": ("轨迹异常跳变", "Impossible track"),
    "pp_minutes": ("分钟", "min"),
    "pp_points_by_rule": ("积分来源 · 本月", "Points by rule · this month"),
    "pp_lowest": ("末位关注", "Needs attention"),
    "pp_times": ("次", ""),
}

from dashboard.i18n_drill import STRINGS as _DRILL  # noqa: E402 - issue 6's strings

STRINGS.update(_DRILL)


# Dead-letter reason categories (the text before the first colon of a reason).
REASONS: dict[str, tuple[str, str]] = {
    "impossible jump": ("轨迹跳变", "impossible jump"),
    "duplicate fix": ("重复定位", "duplicate fix"),
    "out of order": ("时序错乱", "out of order"),
    "future timestamp": ("时间超前", "future timestamp"),
    "too old": ("数据过旧", "too old"),
    "unknown worker": ("未知设备", "unknown device"),
    "malformed": ("格式错误", "malformed"),
    "handler error": ("处理异常", "handler error"),
}
STREAM_NAMES: dict[str, tuple[str, str]] = {
    "gps": ("定位", "GPS"), "events": ("事件", "reports"), "calls": ("接口调用", "calls"),
}


def reason(key: str, lang: str = "zh") -> str:
    """Return a dead-letter reason category for display; unknown ones as they are."""
    pair = REASONS.get(key)
    return key if pair is None else pair[1] if lang == "en" else pair[0]


def stream_name(key: str, lang: str = "zh") -> str:
    """Return the display name of a logical stream."""
    pair = STREAM_NAMES.get(key)
    return key if pair is None else pair[1] if lang == "en" else pair[0]


def t(key: str, lang: str = "zh") -> str:
    """Return the UI string for a key in a language (zh or en); the key itself if unknown.

    An empty English string is a Chinese counter word (人, 件, 次) English does without.
    """
    pair = STRINGS.get(key)
    if pair is None:
        return key
    return pair[1] if lang == "en" else pair[0]
