"""Write the data-sharing exchange registry of the default district (catalogs, interfaces, ...).

Run: .venv/bin/python scripts/gen_exchange.py [--out data/districts/dongli]
(scripts/gen_district.py calls write_exchange too).

The article's figures are met exactly: 40 units (33 departments + 7 street offices),
1,457 data catalogs, 21,661 information items, 8 interfaces, sharing classes
conditional 79.34 %, unconditional 15.1 %, not shared 5.56 % (1,156 / 220 / 81 catalogs),
civil affairs (民政局) first by mounted catalogs and personal identity query the interface
the simulator calls most.  A city replaces the three files with its own.

- catalogs.csv:   id, name, unit, items, sharing (unconditional | conditional | not_shared),
                  interfaces (codes separated by ';', empty when no interface serves it)
- interfaces.csv: code, name, name_en, provider (unit code)
- approvals.csv:  catalog, unit, since (YYYY-MM-DD), until (YYYY-MM-DD or empty), by
"""

from __future__ import annotations

import argparse
import csv
import random
from pathlib import Path

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "data" / "districts" / "dongli"
SEED = 20190121  # the pilot's start date, as scripts/gen_district.py
TOTAL_CATALOGS = 1457
TOTAL_ITEMS = 21661
SHARES = {"conditional": 0.7934, "unconditional": 0.151, "not_shared": 0.0556}

# (code, name, name_en, provider, [(catalog name, sharing class), ...] it serves)
INTERFACES = (
    ("identity", "个人身份查询", "Personal identity query", "gongan", [
        ("常住人口基本信息", "conditional"), ("居民身份证信息", "conditional"),
        ("流动人口登记信息", "conditional"), ("重点人员管控信息", "not_shared")]),
    ("household", "户籍信息查询", "Household registration query", "gongan", [
        ("户籍登记信息", "conditional"), ("户口迁移信息", "conditional"),
        ("出生登记信息", "conditional"), ("死亡注销信息", "conditional")]),
    ("marriage", "婚姻登记信息查询", "Marriage registration query", "minzheng", [
        ("婚姻登记办理信息", "conditional"), ("婚姻登记证照信息", "conditional"),
        ("收养登记办理信息", "not_shared")]),
    ("social_insurance", "社保参保信息查询", "Social insurance query", "renshe", [
        ("社会保险参保基本信息", "conditional"), ("养老保险缴费信息", "conditional"),
        ("失业保险待遇发放信息", "conditional"), ("就业失业登记信息", "unconditional")]),
    ("enterprise", "企业登记信息查询", "Enterprise registration query", "shichang", [
        ("企业登记信息", "unconditional"), ("个体工商户登记信息", "unconditional"),
        ("企业变更登记信息", "unconditional"), ("企业经营异常名录", "unconditional"),
        ("市场主体行政处罚信息", "conditional")]),
    ("real_estate", "不动产登记信息查询", "Real-estate registration query", "guihua", [
        ("不动产登记信息", "conditional"), ("不动产抵押登记信息", "conditional"),
        ("不动产查封登记信息", "not_shared")]),
    ("vehicle", "机动车信息查询", "Motor vehicle query", "jiaojing", [
        ("机动车登记信息", "conditional"), ("机动车驾驶人信息", "conditional"),
        ("道路交通违法信息", "conditional")]),
    ("subsistence", "低保救助信息查询", "Subsistence allowance query", "minzheng", [
        ("最低生活保障对象基本信息", "conditional"), ("特困供养人员基本信息", "conditional"),
        ("临时救助对象资金发放信息", "conditional"), ("低收入家庭基本信息", "conditional")]),
)

# Facets that follow a subject: people (P), organisations (O), things (T), administrative
# matters (A) and incidents (E).
FACETS = {
    "P": ("基本信息", "家庭成员信息", "变更信息", "资金发放信息", "审核审批信息", "动态管理台账",
          "年度统计信息", "档案信息"),
    "O": ("登记信息", "变更登记信息", "注销信息", "年检年报信息", "名录", "奖惩信息",
          "监督检查信息", "统计信息"),
    "T": ("基本信息", "分布信息", "巡查记录", "维护维修记录", "统计信息", "档案信息", "台账"),
    "A": ("办理信息", "受理信息", "审批结果信息", "档案信息", "统计信息", "台账", "公示信息"),
    "E": ("基本信息", "处置信息", "办结信息", "统计信息", "台账", "月度分析信息"),
}
ITEMS = {  # information items (fields) per facet: (low, high)
    "基本信息": (18, 42), "家庭成员信息": (10, 22), "登记信息": (16, 36), "变更信息": (8, 18),
    "变更登记信息": (8, 18), "注销信息": (6, 14), "名录": (5, 12), "统计信息": (5, 14),
    "年度统计信息": (5, 14), "台账": (8, 20), "动态管理台账": (8, 20), "档案信息": (12, 30),
    "资金发放信息": (8, 16), "公示信息": (5, 10),
}

# Each unit's data subjects with their kind, and its weight in the catalog count.
UNITS = {
    "minzheng": (118, [("最低生活保障对象", "P"), ("特困供养人员", "P"), ("临时救助对象", "P"),
                       ("低收入家庭", "P"), ("高龄老人", "P"), ("困境儿童", "P"), ("孤儿", "P"),
                       ("残疾人两项补贴对象", "P"), ("居家养老服务对象", "P"),
                       ("社会组织", "O"), ("养老机构", "O"), ("慈善组织", "O"),
                       ("社区社会组织", "O"), ("婚姻登记", "A"), ("收养登记", "A"),
                       ("殡葬服务", "A"), ("地名管理", "A"), ("行政区划", "T"),
                       ("社区服务设施", "T"), ("福利彩票销售网点", "T")]),
    "gongan": (104, [("常住人口", "P"), ("暂住人口", "P"), ("境外人员", "P"), ("出入境人员", "P"),
                     ("特种行业", "O"), ("保安服务公司", "O"), ("旅馆业", "O"),
                     ("公共娱乐场所", "O"), ("户口登记", "A"), ("居民身份证办理", "A"),
                     ("治安案件", "E"), ("警情", "E"), ("视频监控点位", "T"), ("派出所辖区", "T"),
                     ("剧毒化学品购买", "A"), ("民用爆炸物品", "T")]),
    "renshe": (92, [("参保人员", "P"), ("就业困难人员", "P"), ("失业人员", "P"),
                    ("退休人员", "P"), ("高校毕业生就业", "P"), ("职业技能培训", "A"),
                    ("劳动保障监察", "E"), ("劳动人事争议仲裁", "A"), ("用人单位", "O"),
                    ("人力资源服务机构", "O"), ("职业技能鉴定", "A"), ("公益性岗位", "T"),
                    ("专业技术人员", "P"), ("工伤认定", "A")]),
    "shichang": (85, [("食品生产经营", "O"), ("药品经营企业", "O"), ("特种设备", "T"),
                      ("计量器具", "T"), ("广告经营", "O"), ("产品质量抽检", "A"),
                      ("消费投诉举报", "E"), ("行政许可", "A"), ("双随机抽查", "A"),
                      ("农民专业合作社", "O"), ("商标注册", "A"), ("网络交易经营者", "O")]),
    "zhujian": (71, [("房屋建设工程", "T"), ("建筑施工企业", "O"), ("房地产开发企业", "O"),
                     ("物业服务企业", "O"), ("商品房预售", "A"), ("房屋租赁登记", "A"),
                     ("公租房保障对象", "P"), ("老旧小区改造", "T"), ("建筑工地扬尘", "T"),
                     ("危险房屋", "T"), ("施工许可", "A")]),
    "weijian": (66, [("出生医学证明", "A"), ("计划生育家庭", "P"), ("医疗机构", "O"),
                     ("医师执业", "P"), ("护士执业", "P"), ("预防接种", "A"),
                     ("传染病报告", "E"), ("居民健康档案", "P"), ("家庭医生签约", "A"),
                     ("公共场所卫生许可", "A")]),
    "guihua": (58, [("建设用地", "T"), ("国有土地使用权", "A"), ("建设工程规划许可", "A"),
                    ("耕地保护", "T"), ("地质灾害隐患点", "T"), ("测绘成果", "T"),
                    ("不动产权籍调查", "A"), ("土地征收", "A"), ("矿产资源", "T")]),
    "yibao": (52, [("医保参保人员", "P"), ("定点医疗机构", "O"), ("定点零售药店", "O"),
                   ("医疗费用结算", "A"), ("门诊慢特病", "A"), ("医疗救助", "A"),
                   ("异地就医备案", "A"), ("医保基金监管", "E")]),
    "jiaoyu": (50, [("中小学校", "O"), ("幼儿园", "O"), ("在校学生学籍", "P"),
                    ("教师资格", "P"), ("学生资助", "A"), ("校外培训机构", "O"),
                    ("义务教育入学", "A"), ("校车", "T")]),
    "chengguan": (47, [("环卫设施", "T"), ("户外广告设施", "T"), ("城市照明设施", "T"),
                       ("占道经营", "E"), ("城市管理执法", "E"), ("垃圾分类", "A"),
                       ("市政道路", "T"), ("公厕", "T")]),
    "shengtai": (45, [("重点排污单位", "O"), ("环境影响评价", "A"), ("排污许可", "A"),
                      ("空气质量监测", "T"), ("水质监测断面", "T"), ("危险废物", "T"),
                      ("环境信访投诉", "E"), ("环境行政处罚", "E")]),
    "yingji": (43, [("危险化学品企业", "O"), ("安全生产许可", "A"), ("应急避难场所", "T"),
                    ("应急救援队伍", "O"), ("应急物资储备", "T"), ("自然灾害", "E"),
                    ("安全生产执法", "E"), ("生产安全事故", "E")]),
    "shuishou": (41, [("纳税人登记", "O"), ("发票领用", "A"), ("欠税公告", "A"),
                      ("纳税信用等级", "O"), ("税收减免", "A"), ("个人所得税", "A")]),
    "jiaojing": (38, [("机动车", "T"), ("驾驶人", "P"), ("交通事故", "E"), ("交通违法", "E"),
                      ("交通信号设施", "T"), ("停车场", "T")]),
    "sifa": (36, [("社区矫正对象", "P"), ("安置帮教对象", "P"), ("人民调解", "E"),
                  ("法律援助", "A"), ("律师事务所", "O"), ("公证", "A"), ("人民调解组织", "O")]),
    "nongye": (34, [("农业经营主体", "O"), ("农村土地承包", "A"), ("农产品质量检测", "A"),
                    ("动物防疫", "A"), ("农机", "T"), ("高标准农田", "T")]),
    "jiaotong": (32, [("道路运输企业", "O"), ("营运车辆", "T"), ("公交线路", "T"),
                      ("出租汽车", "T"), ("道路运输从业人员", "P"), ("公路桥梁", "T")]),
    "shuiwu": (30, [("河道", "T"), ("排水设施", "T"), ("供水企业", "O"), ("取水许可", "A"),
                    ("防汛物资", "T"), ("水利工程", "T")]),
    "fagai": (28, [("固定资产投资项目", "A"), ("价格监测点", "T"), ("社会信用", "O"),
                   ("重点项目", "T"), ("粮食储备", "T"), ("节能审查", "A")]),
    "caizheng": (27, [("财政预算", "A"), ("政府采购", "A"), ("惠民惠农补贴", "A"),
                      ("行政事业单位资产", "T"), ("财政专项资金", "A")]),
    "tongji": (26, [("统计调查单位", "O"), ("人口抽样调查", "A"), ("经济普查", "A"),
                    ("国民经济核算", "A"), ("统计执法", "E")]),
    "tuijun": (24, [("退役军人", "P"), ("优抚对象", "P"), ("军休干部", "P"),
                    ("退役军人服务站", "O"), ("烈士纪念设施", "T")]),
    "wenlv": (22, [("文化市场经营单位", "O"), ("旅游景区", "T"), ("旅行社", "O"),
                   ("文物保护单位", "T"), ("公共文化设施", "T")]),
    "shangwu": (21, [("外商投资企业", "O"), ("商贸流通企业", "O"), ("成品油经营", "A"),
                     ("单用途预付卡", "A"), ("农贸市场", "T")]),
    "canlian": (20, [("持证残疾人", "P"), ("残疾人就业", "A"), ("残疾人康复", "A"),
                     ("无障碍设施", "T"), ("残疾人托养机构", "O")]),
    "xiaofang": (19, [("消防重点单位", "O"), ("消防设施", "T"), ("火灾事故", "E"),
                      ("消防安全检查", "A"), ("微型消防站", "O")]),
    "bianban": (18, [("机关事业单位", "O"), ("机构编制", "A"), ("权责清单", "A"),
                     ("事业单位法人", "O")]),
    "xinfang": (17, [("信访事项", "E"), ("信访人", "P"), ("领导接访", "E"),
                     ("信访积案化解", "E")]),
    "wangxin": (16, [("政务信息系统", "T"), ("网络安全等级保护", "A"), ("政务数据资源", "T"),
                     ("网络舆情", "E")]),
    "shenji": (15, [("审计项目", "A"), ("审计整改", "A"), ("被审计单位", "O")]),
    "tiyu": (14, [("公共体育设施", "T"), ("体育社会组织", "O"), ("全民健身活动", "A")]),
    "fulian": (12, [("妇女儿童维权", "E"), ("巾帼志愿者", "P"), ("家庭教育指导", "A")]),
    "zonggonghui": (11, [("工会会员", "P"), ("困难职工", "P"), ("工会组织", "O")]),
}
STREET_SUBJECTS = [("辖区实有人口", "P"), ("辖区老年人", "P"), ("辖区企业", "O"),
                   ("社区网格", "T"), ("出租房屋", "T"), ("社区矛盾纠纷", "E"),
                   ("网格巡查事件", "E"), ("志愿服务", "A"), ("党员社区服务积分", "P")]
STREETS = {"st-wanxin": 24, "st-junliangcheng": 22, "st-zhangguizhuang": 17,
           "st-fengniancun": 16, "st-wuxia": 15, "st-xinli": 14, "st-huaming": 15}
STREET_NAMES = {"st-wanxin": "万新街道", "st-junliangcheng": "军粮城街道",
                "st-zhangguizhuang": "张贵庄街道", "st-fengniancun": "丰年村街道",
                "st-wuxia": "无瑕街道", "st-xinli": "新立街道", "st-huaming": "华明街道"}
NOT_SHARED_HINTS = ("管控", "治安案件", "警情", "信访人", "矫正", "帮教", "查封", "审计",
                    "剧毒", "爆炸", "个人所得税", "欠税", "舆情", "等级保护", "监控点位")
UNCONDITIONAL_HINTS = ("名录", "公示", "统计", "分布", "设施", "行政区划", "地名", "线路",
                       "景区", "网点", "许可", "登记信息")

# Who needs which interface (and so holds approvals for its conditional catalogs).
DEMAND = {
    "identity": ["st-*", "minzheng", "renshe", "yibao", "weijian", "sifa", "tuijun", "canlian",
                 "xinfang", "zhujian", "jiaoyu", "shuishou"],
    "household": ["st-*", "minzheng", "jiaoyu", "weijian", "renshe", "tuijun", "sifa"],
    "marriage": ["st-*", "weijian", "guihua", "renshe"],
    "social_insurance": ["st-*", "minzheng", "yibao", "zhujian", "shuishou"],
    "enterprise": ["st-*", "shuishou", "renshe", "shengtai", "yingji", "zhujian", "tongji"],
    "real_estate": ["minzheng", "zhujian", "jiaoyu", "shuishou", "sifa"],
    "vehicle": ["minzheng", "jiaotong", "shuishou", "yingji"],
    "subsistence": ["st-*", "canlian", "renshe", "yibao", "tuijun", "weijian"],
}
APPROVERS = ("网信办数据资源科", "网信办大数据运营中心")


def rng_for(name: str) -> random.Random:
    """Return a random stream private to one generator."""
    return random.Random(f"{SEED}:exchange:{name}")


def unit_counts() -> dict[str, int]:
    """Return the catalog count of every unit, summing exactly to TOTAL_CATALOGS."""
    weights = {u: w for u, (w, _) in UNITS.items()} | STREETS
    total = sum(weights.values())
    exact = {u: w * TOTAL_CATALOGS / total for u, w in weights.items()}
    counts = {u: int(x) for u, x in exact.items()}
    for u in sorted(exact, key=lambda u: exact[u] - counts[u], reverse=True)[
            :TOTAL_CATALOGS - sum(counts.values())]:
        counts[u] += 1
    return counts


def subjects_of(unit: str) -> list[tuple[str, str]]:
    """Return a unit's data subjects with their kind."""
    return UNITS[unit][1] if unit in UNITS else STREET_SUBJECTS


def join_name(subject: str, facet: str) -> str:
    """Return subject + facet without a doubled word (身份证办理 + 办理信息 = 身份证办理信息)."""
    for k in range(min(len(subject), len(facet)), 1, -1):
        if subject.endswith(facet[:k]):
            return subject + facet[k:]
    return subject + facet


def catalog_names(unit: str, count: int, fixed: list[str], rng: random.Random) -> list[str]:
    """Return count distinct catalog names: the interface-served ones, then subject x facet.

    A street office's names start with its street, so the seven offices' catalogs differ."""
    names = list(fixed)
    street = STREET_NAMES.get(unit, "")
    pool = [join_name(street + s.removeprefix("辖区") if street else s, f)
            for s, kind in subjects_of(unit) for f in FACETS[kind]]
    rng.shuffle(pool)
    pool.sort(key=lambda n: 0 if n.endswith(("基本信息", "登记信息", "办理信息")) else 1)
    names += [n for n in pool if n not in names]
    if len(names) < count:
        raise ValueError(f"{unit}: only {len(names)} catalog names for {count} catalogs")
    return names[:count]


def items_for(name: str, rng: random.Random) -> int:
    """Return a plausible number of information items for a catalog name."""
    for facet, (lo, hi) in ITEMS.items():
        if name.endswith(facet):
            return rng.randint(lo, hi)
    return rng.randint(8, 24)


def fit_items(items: list[int], rng: random.Random) -> list[int]:
    """Nudge item counts (each stays at least 3) until they sum to TOTAL_ITEMS exactly."""
    items = list(items)
    diff = TOTAL_ITEMS - sum(items)
    step = 1 if diff > 0 else -1
    while diff:
        i = rng.randrange(len(items))
        if items[i] + step >= 3:
            items[i] += step
            diff -= step
    return items


def class_targets() -> dict[str, int]:
    """Return how many catalogs each sharing class has: the article's shares, rounded."""
    targets = {c: round(TOTAL_CATALOGS * s) for c, s in SHARES.items()}
    targets["conditional"] += TOTAL_CATALOGS - sum(targets.values())
    return targets


def assign_classes(rows: list[dict], rng: random.Random) -> None:
    """Give every catalog without a fixed class one, meeting the class targets exactly."""
    left = class_targets()
    for row in rows:
        if row["sharing"]:
            left[row["sharing"]] -= 1
    free = [r for r in rows if not r["sharing"]]
    for cls, hints in (("not_shared", NOT_SHARED_HINTS), ("unconditional", UNCONDITIONAL_HINTS)):
        score = {r["id"]: rng.random() + (0.6 if any(h in r["name"] for h in hints) else 0.0)
                 for r in free}
        chosen = sorted(free, key=lambda r: score[r["id"]], reverse=True)[:left[cls]]
        for r in chosen:
            r["sharing"] = cls
        free = [r for r in free if not r["sharing"]]
    for r in free:
        r["sharing"] = "conditional"


def build_catalogs() -> list[dict]:
    """Return every catalog row of the default district."""
    served: dict[str, list[tuple[str, str, str]]] = {}
    for code, _n, _en, provider, cats in INTERFACES:
        for name, cls in cats:
            served.setdefault(provider, []).append((name, cls, code))
    rows: list[dict] = []
    for unit, count in unit_counts().items():
        rng = rng_for(f"catalogs:{unit}")
        fixed = served.get(unit, [])
        names = catalog_names(unit, count, [n for n, _, _ in fixed], rng)
        by_name = {n: (cls, code) for n, cls, code in fixed}
        for k, name in enumerate(names, 1):
            cls, iface = by_name.get(name, ("", ""))
            rows.append({"id": f"{unit}-{k:03d}", "name": name, "unit": unit,
                         "items": items_for(name, rng), "sharing": cls, "interfaces": iface})
    rng = rng_for("classes")
    assign_classes(rows, rng)
    for row, n in zip(rows, fit_items([r["items"] for r in rows], rng), strict=True):
        row["items"] = n
    return rows


def units_for(pattern: str) -> list[str]:
    """Return the unit codes a DEMAND entry names ('st-*' = every street office)."""
    return sorted(STREETS) if pattern == "st-*" else [pattern]


def build_approvals(catalogs: list[dict]) -> list[list[str]]:
    """Return approvals: each demanding unit for each conditional catalog of its interfaces."""
    rng = rng_for("approvals")
    rows = []
    for iface, patterns in DEMAND.items():
        cats = [c for c in catalogs if c["interfaces"] == iface and c["sharing"] == "conditional"]
        for unit in (u for p in patterns for u in units_for(p)):
            for c in cats:
                if c["unit"] == unit:
                    continue
                month, day = rng.randint(3, 9), rng.randint(1, 28)
                until = "2019-12-31" if rng.random() < 0.03 else ""
                rows.append([c["id"], unit, f"2019-{month:02d}-{day:02d}", until,
                             rng.choice(APPROVERS)])
    return rows


def write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    """Write a UTF-8 CSV with a header row and Unix line ends."""
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def write_exchange(out: Path, ctx: object = None) -> None:
    """Write catalogs.csv, interfaces.csv and approvals.csv into a district folder."""
    catalogs = build_catalogs()
    write_csv(out / "interfaces.csv", ["code", "name", "name_en", "provider"],
              [[c, n, en, p] for c, n, en, p, _ in INTERFACES])
    write_csv(out / "catalogs.csv", ["id", "name", "unit", "items", "sharing", "interfaces"],
              [[c["id"], c["name"], c["unit"], c["items"], c["sharing"], c["interfaces"]]
               for c in catalogs])
    write_csv(out / "approvals.csv", ["catalog", "unit", "since", "until", "by"],
              build_approvals(catalogs))


def main(argv: list[str] | None = None) -> None:
    """Generate the exchange registry files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="district folder")
    out = parser.parse_args(argv).out
    out.mkdir(parents=True, exist_ok=True)
    write_exchange(out)
    print(f"wrote {TOTAL_CATALOGS} catalogs, {len(INTERFACES)} interfaces to {out}")


if __name__ == "__main__":
    main()
