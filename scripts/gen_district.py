"""Generate the default district folder (data/districts/dongli) deterministically.

Run: .venv/bin/python scripts/gen_district.py [--out data/districts/dongli]

Every generator draws from its own random stream, seeded by SEED and the generator's
name, so adding a generator (patrol items, data catalogs, residents, ...) never changes
the files the others write.  To add one: write a ``write_<thing>(out, ctx)`` function
and append it to WRITERS.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gen_catalog import write_patrol_items
from gen_exchange import write_exchange
from gen_people import write_people

SEED = 20190121  # the pilot's start date
EARTH_R_M = 6371008.8  # mean Earth radius, metres
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "data" / "districts" / "dongli"

DISTRICT = {"code": "120110", "name": "东丽区", "name_en": "Dongli District"}


@dataclass(frozen=True)
class StreetSpec:
    """How one pilot street is laid out: centre, cell size, station blocks."""

    code: str
    prefix: str  # grid-code prefix, e.g. "WX"
    name: str
    name_en: str
    center: tuple[float, float]  # (lat, lon)
    rotation_deg: float  # counter-clockwise rotation of the lattice
    block: tuple[int, int]  # cells per station block: (columns, rows)
    rows: tuple[tuple[int, int], ...]  # per station row, north first: (first block column, count)
    communities: tuple[str, ...]  # one per station, in station order


STREETS = (
    StreetSpec(
        code="wanxin",
        prefix="WX",
        name="万新街道",
        name_en="Wanxin Subdistrict",
        center=(39.125, 117.285),
        rotation_deg=14.0,
        block=(2, 5),
        rows=((0, 6), (0, 6), (0, 5)),
        communities=(
            "铁城公寓", "万新村", "詹庄子", "利津路", "龙博园", "天山南路",
            "香邑花园", "成林道", "月牙河", "宝元里", "新居里", "万隆花园",
            "福源里", "欣美园", "畅旺里", "正泰园", "嘉华里",
        ),
    ),
    StreetSpec(
        code="junliangcheng",
        prefix="JL",
        name="军粮城街道",
        name_en="Junliangcheng Subdistrict",
        center=(39.06, 117.42),
        rotation_deg=-9.0,
        block=(3, 3),
        rows=((2, 3), (1, 4), (0, 5)),
        communities=(
            "军秀园", "军丽园", "军瑞园", "军宏园", "军馨园", "军悦园",
            "军安园", "军华园", "军盛园", "新市镇", "刘台", "杨台",
        ),
    ),
)

# 33 district departments: (code, name, name_en)
DEPARTMENTS = (
    ("minzheng", "民政局", "Civil Affairs Bureau"),
    ("gongan", "公安东丽分局", "Dongli Public Security Sub-bureau"),
    ("zhujian", "住建委", "Housing and Construction Commission"),
    ("shengtai", "生态环境局", "Ecology and Environment Bureau"),
    ("jiaojing", "交警支队", "Traffic Police Detachment"),
    ("sifa", "司法局", "Justice Bureau"),
    ("shichang", "市场监管局", "Market Regulation Bureau"),
    ("yingji", "应急管理局", "Emergency Management Bureau"),
    ("chengguan", "城市管理委", "City Management Commission"),
    ("shuiwu", "水务局", "Water Affairs Bureau"),
    ("renshe", "人社局", "Human Resources and Social Security Bureau"),
    ("weijian", "卫健委", "Health Commission"),
    ("jiaoyu", "教育局", "Education Bureau"),
    ("xiaofang", "消防救援支队", "Fire and Rescue Detachment"),
    ("guihua", "规划和自然资源局", "Planning and Natural Resources Bureau"),
    ("jiaotong", "交通运输局", "Transport Bureau"),
    ("wenlv", "文旅局", "Culture and Tourism Bureau"),
    ("shuishou", "税务局", "Taxation Bureau"),
    ("tongji", "统计局", "Statistics Bureau"),
    ("bianban", "编办", "Institutional Establishment Office"),
    ("xinfang", "信访办", "Letters and Visits Office"),
    ("tuijun", "退役军人事务局", "Veterans Affairs Bureau"),
    ("yibao", "医保局", "Healthcare Security Bureau"),
    ("nongye", "农业农村委", "Agriculture and Rural Affairs Commission"),
    ("shangwu", "商务局", "Commerce Bureau"),
    ("fagai", "发改委", "Development and Reform Commission"),
    ("caizheng", "财政局", "Finance Bureau"),
    ("shenji", "审计局", "Audit Bureau"),
    ("tiyu", "体育局", "Sports Bureau"),
    ("canlian", "残联", "Disabled Persons' Federation"),
    ("fulian", "妇联", "Women's Federation"),
    ("zonggonghui", "总工会", "Federation of Trade Unions"),
    ("wangxin", "网信办", "Cyberspace Affairs Office"),
)

# 7 street offices: (street code, name, name_en, has grids in the pilot)
STREET_OFFICES = (
    ("wanxin", "万新街道办事处", "Wanxin Subdistrict Office", True),
    ("junliangcheng", "军粮城街道办事处", "Junliangcheng Subdistrict Office", True),
    ("zhangguizhuang", "张贵庄街道办事处", "Zhangguizhuang Subdistrict Office", False),
    ("fengniancun", "丰年村街道办事处", "Fengniancun Subdistrict Office", False),
    ("wuxia", "无瑕街道办事处", "Wuxia Subdistrict Office", False),
    ("xinli", "新立街道办事处", "Xinli Subdistrict Office", False),
    ("huaming", "华明街道办事处", "Huaming Subdistrict Office", False),
)

# Common surnames with rough relative frequencies (per mille of the population).
SURNAMES = (
    ("王", 72), ("李", 72), ("张", 69), ("刘", 54), ("陈", 45), ("杨", 32), ("赵", 22),
    ("黄", 22), ("周", 19), ("吴", 19), ("徐", 17), ("孙", 16), ("胡", 13), ("朱", 13),
    ("高", 13), ("林", 12), ("何", 12), ("郭", 12), ("马", 11), ("罗", 9), ("梁", 9),
    ("宋", 8), ("郑", 8), ("谢", 7), ("韩", 7), ("唐", 7), ("冯", 7), ("于", 6), ("董", 6),
    ("萧", 5), ("程", 5), ("曹", 5), ("袁", 5), ("邓", 5), ("许", 5), ("傅", 4), ("沈", 4),
    ("曾", 4), ("彭", 4), ("吕", 4), ("苏", 4), ("卢", 4), ("蒋", 4), ("蔡", 4), ("贾", 3),
    ("丁", 3), ("魏", 3), ("薛", 3), ("叶", 3), ("阎", 3), ("余", 3), ("潘", 3), ("杜", 3),
    ("戴", 3), ("夏", 2), ("钟", 2), ("汪", 2), ("田", 2), ("任", 2), ("姜", 2), ("范", 2),
    ("方", 2), ("石", 2), ("姚", 2), ("谭", 2), ("廖", 2), ("邹", 2), ("熊", 2), ("金", 2),
    ("陆", 2), ("郝", 2), ("孔", 2), ("白", 2), ("崔", 2), ("康", 2), ("毛", 2), ("邱", 2),
)
# Given names by generation: workers were newly hired under 35, secretaries are older.
GIVEN_YOUNG = (
    "浩然", "子轩", "宇航", "俊杰", "文博", "思远", "天佑", "皓轩", "明哲", "嘉豪", "博文",
    "一鸣", "晨阳", "泽宇", "梓涵", "鑫", "昊", "欣怡", "思雨", "雨桐", "佳慧", "婉婷", "梦瑶",
    "诗涵", "可欣", "晓彤", "雅琪", "心怡", "婧", "颖", "琳", "璐", "楠", "蕾", "鹏飞", "凯文",
    "宇轩", "俊豪", "晨曦", "嘉怡", "子怡", "佳琪", "梦琪", "雨欣", "思彤", "一诺", "浩宇",
    "振宇", "立伟", "超", "磊", "洋", "帅", "健", "旭", "阳", "瑞", "倩", "茜", "丹", "悦",
    "萌", "爽", "晴", "宁", "震", "航", "毅",
)
GIVEN_ELDER = (
    "建国", "建华", "建军", "国庆", "国强", "志强", "志刚", "永刚", "永明", "德明", "海涛",
    "立新", "卫东", "红军", "春生", "秀英", "秀兰", "桂兰", "桂芳", "玉兰", "玉梅", "淑珍",
    "淑芬", "丽娟", "凤英", "素梅", "雪梅", "红梅", "亚萍", "晓燕", "伟", "勇", "军", "强",
    "平", "刚", "斌", "辉", "敏", "静", "芳", "艳", "霞", "娟", "萍", "红", "华", "燕", "英",
    "莉",
)
MOBILE_PREFIXES = (
    "130", "131", "132", "133", "135", "136", "137", "138", "139",
    "150", "151", "152", "153", "155", "156", "157", "158", "159",
    "180", "181", "182", "183", "185", "186", "187", "188", "189",
)

Point = tuple[float, float]  # (lon, lat), rounded to 6 decimals


@dataclass
class Context:
    """What generators share: the streets' stations and grids as they are generated."""

    stations: list[dict] = field(default_factory=list)
    grids: list[dict] = field(default_factory=list)
    used_names: set[str] = field(default_factory=set)


def rng_for(name: str) -> random.Random:
    """Return a random stream private to one generator."""
    return random.Random(f"{SEED}:{name}")


def person_name(rng: random.Random, used: set[str], given: tuple[str, ...]) -> str:
    """Return a 2–3 character Chinese name not yet in `used` (and add it)."""
    surnames, weights = zip(*SURNAMES, strict=True)
    while True:
        name = rng.choices(surnames, weights)[0] + rng.choice(given)
        if name not in used:
            used.add(name)
            return name


def mobile(rng: random.Random, used: set[str]) -> str:
    """Return an 11-digit mainland mobile number not yet in `used` (and add it)."""
    while True:
        phone = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
        if phone not in used:
            used.add(phone)
            return phone


# ---- geometry ----------------------------------------------------------------------


def cell_blocks(spec: StreetSpec) -> list[tuple[int, int]]:
    """Return each station's block origin (column, row from south) in cell units, in order."""
    bw, bh = spec.block
    n_rows = len(spec.rows)
    return [
        ((first + k) * bw, (n_rows - 1 - r) * bh)
        for r, (first, count) in enumerate(spec.rows)
        for k in range(count)
    ]


def lattice_size(spec: StreetSpec) -> tuple[int, int]:
    """Return the street lattice size in cells: (columns, rows)."""
    bw, bh = spec.block
    return max(f + c for f, c in spec.rows) * bw, len(spec.rows) * bh


def axis_steps(rng: random.Random, n: int, lo_m: float, hi_m: float) -> list[float]:
    """Return n+1 cumulative lattice line positions (metres) with random spacings."""
    pos = [0.0]
    for _ in range(n):
        pos.append(pos[-1] + rng.uniform(lo_m, hi_m))
    return pos


def to_lonlat(spec: StreetSpec, x: float, y: float) -> Point:
    """Rotate local metres about the street centre and project to rounded lon/lat."""
    a = math.radians(spec.rotation_deg)
    xr, yr = x * math.cos(a) - y * math.sin(a), x * math.sin(a) + y * math.cos(a)
    lat0, lon0 = spec.center
    lat = lat0 + math.degrees(yr / EARTH_R_M)
    lon = lon0 + math.degrees(xr / (EARTH_R_M * math.cos(math.radians(lat0))))
    return round(lon, 6), round(lat, 6)


def lattice_vertices(spec: StreetSpec, rng: random.Random) -> dict[str, dict]:
    """Return shared jittered corners and edge bends of the street lattice, in lon/lat."""
    nc, nr = lattice_size(spec)
    xs, ys = axis_steps(rng, nc, 290, 400), axis_steps(rng, nr, 250, 340)
    cx, cy = xs[-1] / 2, ys[-1] / 2
    corner_m = {
        (i, j): (xs[i] - cx + rng.uniform(-45, 45), ys[j] - cy + rng.uniform(-40, 40))
        for i in range(nc + 1)
        for j in range(nr + 1)
    }

    def bend(p: tuple[float, float], q: tuple[float, float]) -> Point:
        # a road is rarely straight: move the edge midpoint sideways by up to 6 % of its length
        (px, py), (qx, qy) = p, q
        t = rng.uniform(-0.06, 0.06)
        return to_lonlat(spec, (px + qx) / 2 - (qy - py) * t, (py + qy) / 2 + (qx - px) * t)

    return {
        "corner": {k: to_lonlat(spec, *v) for k, v in corner_m.items()},
        "h": {(i, j): bend(corner_m[i, j], corner_m[i + 1, j])
              for i in range(nc) for j in range(nr + 1)},
        "v": {(i, j): bend(corner_m[i, j], corner_m[i, j + 1])
              for i in range(nc + 1) for j in range(nr)},
    }


def cell_ring(verts: dict[str, dict], i: int, j: int) -> list[Point]:
    """Return the closed counter-clockwise ring of cell (column i, row j from south)."""
    c, h, v = verts["corner"], verts["h"], verts["v"]
    ring = [c[i, j], h[i, j], c[i + 1, j], v[i + 1, j],
            c[i + 1, j + 1], h[i, j + 1], c[i, j + 1], v[i, j]]
    return ring + [ring[0]]


def street_grids(
    spec: StreetSpec, rng: random.Random, used: set[str]
) -> tuple[list[dict], list[dict]]:
    """Return the stations and grids of one street (grid rings included)."""
    verts = lattice_vertices(spec, rng)
    bw, bh = spec.block
    stations, grids = [], []
    blocks = zip(cell_blocks(spec), spec.communities, strict=True)
    for s, ((bx, by), community) in enumerate(blocks, 1):
        station = f"{spec.prefix}-{s:02d}"
        stations.append({"code": station, "name": f"{community}网格站", "street": spec.code,
                         "leader": person_name(rng, used, GIVEN_ELDER)})
        cells = [(bx + i, by + j) for j in reversed(range(bh)) for i in range(bw)]  # NW first
        for g, (i, j) in enumerate(cells, 1):
            grids.append({"code": f"{station}-{g:02d}", "name": f"{community}第{g}网格",
                          "street": spec.code, "station": station,
                          "households": rng.randint(300, 500), "ring": cell_ring(verts, i, j)})
    return stations, grids


def build(ctx: Context) -> None:
    """Lay out every pilot street's stations and grids into the context."""
    for spec in STREETS:
        stations, grids = street_grids(spec, rng_for(f"street:{spec.code}"), ctx.used_names)
        ctx.stations += stations
        ctx.grids += grids


# ---- writers -----------------------------------------------------------------------


def write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    """Write a UTF-8 CSV with a header row and Unix line ends."""
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def write_district(out: Path, ctx: Context) -> None:
    """Write district.json: codes, names and the map centre of the pilot streets."""
    lons = [p[0] for g in ctx.grids for p in g["ring"]]
    lats = [p[1] for g in ctx.grids for p in g["ring"]]
    center = [round((min(lats) + max(lats)) / 2, 6), round((min(lons) + max(lons)) / 2, 6)]
    doc = {**DISTRICT, "center": center}
    (out / "district.json").write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n",
                                       encoding="utf-8")


def write_streets(out: Path, ctx: Context) -> None:
    """Write streets.csv: the pilot streets that have grids."""
    write_csv(out / "streets.csv", ["code", "name", "name_en"],
              [[s.code, s.name, s.name_en] for s in STREETS])


def write_stations(out: Path, ctx: Context) -> None:
    """Write stations.csv: grid stations with their street and leader."""
    write_csv(out / "stations.csv", ["code", "name", "street", "leader"],
              [[s["code"], s["name"], s["street"], s["leader"]] for s in ctx.stations])


def write_grids(out: Path, ctx: Context) -> None:
    """Write grids.geojson: one Polygon feature per grid, one feature per line."""
    lines = []
    for g in ctx.grids:
        props = {k: g[k] for k in ("code", "name", "street", "station", "households")}
        geom = {"type": "Polygon", "coordinates": [[list(p) for p in g["ring"]]]}
        feature = {"type": "Feature", "properties": props, "geometry": geom}
        lines.append(json.dumps(feature, ensure_ascii=False, separators=(",", ":")))
    text = '{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n"
    (out / "grids.geojson").write_text(text, encoding="utf-8")


def write_workers(out: Path, ctx: Context) -> None:
    """Write workers.csv: one worker per grid, about 20 % party members."""
    rng = rng_for("workers")
    n = len(ctx.grids)
    party = set(rng.sample(range(n), round(n * 0.2)))
    phones: set[str] = set()
    rows = [
        [f"W{k + 1:04d}", person_name(rng, ctx.used_names, GIVEN_YOUNG), g["code"],
         int(k in party), mobile(rng, phones)]
        for k, g in enumerate(ctx.grids)
    ]
    write_csv(out / "workers.csv", ["id", "name", "grid", "party_member", "phone"], rows)


def write_departments(out: Path, ctx: Context) -> None:
    """Write departments.csv: 33 district departments and 7 street offices."""
    rows = [[code, name, en, "department", ""] for code, name, en in DEPARTMENTS]
    rows += [[f"st-{street}", name, en, "street", street if has_grids else ""]
             for street, name, en, has_grids in STREET_OFFICES]
    write_csv(out / "departments.csv", ["code", "name", "name_en", "kind", "street"], rows)


WRITERS: list[Callable[[Path, Context], None]] = [
    write_district,
    write_streets,
    write_stations,
    write_grids,
    write_workers,
    write_departments,
    write_exchange,
    write_patrol_items,
    write_people,  # residents.parquet: reads the files above, so it runs last
]


def main(argv: list[str] | None = None) -> None:
    """Generate every file of the district folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="district folder")
    parser.add_argument("--skip", action="append", default=[],
                        help="a writer to leave out, e.g. people (slow: 300k residents)")
    args = parser.parse_args(argv)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    ctx = Context()
    build(ctx)
    for write in WRITERS:
        if write.__name__.removeprefix("write_") not in args.skip:
            write(out, ctx)
    print(f"wrote {len(ctx.grids)} grids, {len(ctx.stations)} stations to {out}")


if __name__ == "__main__":
    main()
