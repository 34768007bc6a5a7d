"""Generate the synthetic resident registry of a district folder (residents.parquet).

Run: .venv/bin/python scripts/gen_people.py [--district data/districts/dongli] [--residents N]

Deterministic for a seed: households of realistic make-up (elderly living alone, couples,
three generations, tenants), Chinese names by generation and sex, 18-digit ID numbers of
the district's area code with a valid check digit, mobile numbers, addresses in the
grid's community, tenancy contracts and ID-card expiry dates around AS_OF.  A city
replaces the file with its own registry export of the same columns.
"""

from __future__ import annotations

import argparse
import math
import sys
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dashboard.district import load_district  # noqa: E402

SEED = 20190121
AS_OF = date(2026, 11, 1)  # the registry snapshot date: tenancies and visits are around it
DEFAULT_DISTRICT = ROOT / "data" / "districts" / "dongli"
ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
ID_CHECK = "10X98765432"
ROOMS_PER_BUILDING = 24  # 6 floors x 2 doors (门) x 2 flats
VILLAGE_SUFFIXES = ("村", "台", "庄子")

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
# Given names by birth cohort and sex: (born before, male names, female names).
GIVEN = (
    (1965, "建国 建华 建军 国庆 国强 志强 志刚 永刚 永明 德明 立新 卫东 红军 春生 振华 福生 "
           "宝山 长海 金生 庆祥 凤岐 树林 玉田 德旺 伟 勇 军 强 平 刚",
     "秀英 秀兰 桂兰 桂芳 玉兰 玉梅 淑珍 淑芬 丽娟 凤英 素梅 雪梅 红梅 亚萍 桂英 秀珍 凤兰 "
     "秀云 玉珍 淑兰 敏 静 芳 艳 霞 娟 萍 红 华 英"),
    (1985, "伟 磊 勇 军 涛 斌 强 鹏 杰 浩 超 明 亮 刚 峰 海波 建伟 志勇 晓东 文斌 宏伟 俊峰 "
           "国栋 立军 晓明 永强 志鹏 海龙 海涛 东升",
     "静 丽 敏 艳 娜 芳 婷 雪 琳 颖 慧 洁 燕 倩 丹 晓丽 海燕 晓静 丽华 春燕 艳红 红霞 美玲 "
     "秀丽 雅静 玉婷 晓梅 淑敏 彩霞 晓燕"),
    (2008, "浩然 子轩 宇航 俊杰 文博 思远 天佑 皓轩 明哲 嘉豪 博文 一鸣 晨阳 泽宇 鑫 昊 鹏飞 "
           "宇轩 俊豪 浩宇 振宇 帅 旭 阳 瑞 航 毅 凯 伟杰 子豪",
     "欣怡 思雨 雨桐 佳慧 婉婷 梦瑶 诗涵 可欣 晓彤 雅琪 心怡 婧 颖 琳 璐 楠 蕾 晨曦 嘉怡 子怡 "
     "佳琪 梦琪 雨欣 思彤 倩 茜 悦 萌 晴 宁"),
    (9999, "梓睿 沐宸 浩宇 子墨 宇泽 一航 奕辰 宇轩 睿泽 俊熙 梓轩 铭泽 锦程 皓宇 明轩 子骞 "
           "煜祺 承泽 博涛 修杰 一诺 瑞霖 景行 嘉懿 乐天",
     "一诺 若汐 梓涵 欣妍 可馨 语桐 思涵 诗琪 梓萱 芷若 雨涵 沐瑶 安琪 欣然 紫涵 佳怡 梦洁 "
     "婉清 清妍 依诺 语嫣 书瑶 晨希 昕怡 韵涵"),
)
MOBILE_PREFIXES = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "150",
                   "151", "152", "155", "156", "157", "158", "159", "176", "177", "180",
                   "181", "182", "185", "186", "187", "188", "189", "198", "199")
# Household make-up: (kind, share of households)
HOUSEHOLDS = (("elder_alone", 0.085), ("elder_couple", 0.12), ("single", 0.09),
              ("couple", 0.12), ("couple_child", 0.29), ("couple_2child", 0.10),
              ("three_gen", 0.15), ("single_parent", 0.045))
RENT_SHARE = {"single": 0.45, "couple": 0.35, "couple_child": 0.2, "couple_2child": 0.12,
              "single_parent": 0.3, "elder_alone": 0.05, "elder_couple": 0.05, "three_gen": 0.05}
PARTY_SHARE = (0.09, 0.12)  # share of party members among adults under / over 60


class People:
    """Accumulates resident rows column by column (fast to build, one DataFrame at the end)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.cols: dict[str, list] = {c: [] for c in (
            "grid", "household", "relation", "age", "female", "surname", "living_alone",
            "tenant", "lease_holder", "lease_end", "address")}
        self._surnames = np.array([s for s, _ in SURNAMES])
        w = np.array([f for _, f in SURNAMES], dtype=float)
        self._sw = w / w.sum()

    def surname(self) -> str:
        """Return a surname drawn by frequency."""
        return str(self.rng.choice(self._surnames, p=self._sw))

    def add(self, grid: str, hh: str, relation: str, age: float, female: bool, surname: str,
            alone: bool, tenant: bool, holder: bool, lease_end: date | None, address: str) -> None:
        """Append one resident."""
        for k, v in zip(self.cols, (grid, hh, relation, age, female, surname, alone, tenant,
                                    holder, lease_end, address), strict=True):
            self.cols[k].append(v)


def _lease_end(rng: np.random.Generator) -> date:
    """Return the end of a tenancy on file: mostly running, a few ended and not re-registered."""
    if rng.random() < 0.04:
        return AS_OF - timedelta(days=int(rng.integers(1, 61)))
    term = 365 if rng.random() < 0.7 else 730
    return AS_OF + timedelta(days=int(rng.integers(0, term)))


def _household(p: People, grid: str, hh: str, address: str) -> None:
    """Add the members of one household of a random kind."""
    rng = p.rng
    kinds, shares = zip(*HOUSEHOLDS, strict=True)
    kind = kinds[rng.choice(len(kinds), p=np.array(shares) / sum(shares))]
    tenant = rng.random() < RENT_SHARE[kind]
    lease = _lease_end(rng) if tenant else None
    sur = p.surname()
    members: list[tuple[str, float, bool, str]] = []  # relation, age, female, surname
    if kind == "elder_alone":
        members.append(("户主", min(60 + rng.gamma(2.0, 6.0), 101.0), rng.random() < 0.65, sur))
    elif kind == "elder_couple":
        a = min(60 + rng.gamma(2.0, 5.5), 98.0)
        members += [("户主", a, False, sur), ("配偶", max(55.0, a - rng.uniform(-2, 6)), True,
                                                  p.surname())]
    elif kind == "single":
        members.append(("户主", rng.uniform(20, 59) if rng.random() < 0.4 else
                        rng.uniform(20, 38), rng.random() < 0.5, sur))
    else:
        a = {"couple": rng.uniform(22, 59), "couple_child": rng.uniform(26, 56),
             "couple_2child": rng.uniform(30, 52), "three_gen": rng.uniform(28, 50),
             "single_parent": rng.uniform(28, 55)}[kind]
        female_head = kind == "single_parent" and rng.random() < 0.8
        members.append(("户主", a, female_head, sur))
        if kind != "single_parent":
            members.append(("配偶", max(20.0, a - rng.uniform(-3, 5)), True, p.surname()))
        if kind != "couple":
            child = rng.uniform(0.0, max(0.5, min(a - 21, 30)))
            members.append(("子女", child, rng.random() < 0.48, sur))
            if kind == "couple_2child":
                younger = child - rng.uniform(1, 8)
                members.append(("子女", younger if younger > 0 else rng.uniform(0, child),
                                rng.random() < 0.48, sur))
        if kind == "three_gen":
            g = a + rng.uniform(24, 32)
            members.append(("父母", g, rng.random() < 0.6, sur))
            if rng.random() < 0.5:
                members.append(("父母", g - rng.uniform(-3, 4), True, p.surname()))
    alone = len(members) == 1
    for i, (rel, age, female, s) in enumerate(members):
        p.add(grid, hh, rel, float(age), bool(female), s, alone, tenant, tenant and i == 0,
              lease if i == 0 else None, address)


def _community(station_name: str) -> str:
    return station_name.removesuffix("网格站")


def _address(community: str, k: int, first_building: int) -> str:
    """Return the address of household k of a grid whose buildings start at first_building."""
    if community.endswith(VILLAGE_SUFFIXES):
        return f"{community}{first_building + k // 20}排{k % 20 + 1}号"
    b, rem = first_building + k // ROOMS_PER_BUILDING, k % ROOMS_PER_BUILDING
    door, floor, flat = rem // 12 + 1, (rem % 12) // 2 + 1, rem % 2 + 1
    return f"{community}{b}号楼{door}门{floor}{flat:02d}"


def _given_names(rng: np.random.Generator, born: np.ndarray, female: np.ndarray) -> np.ndarray:
    out = np.empty(len(born), dtype=object)
    lo = 0
    for until, male_names, female_names in GIVEN:
        sel = (born >= lo) & (born < until)
        for names, mask in ((male_names.split(), sel & ~female), (female_names.split(),
                                                                   sel & female)):
            out[mask] = rng.choice(np.array(names, dtype=object), size=int(mask.sum()))
        lo = until
    return out


def _id_numbers(rng: np.random.Generator, area: str, birth: np.ndarray,
                female: np.ndarray) -> np.ndarray:
    """Return unique 18-digit ID numbers: area, birth date, sequence (odd = male), check."""
    ymd = pd.DatetimeIndex(birth).strftime("%Y%m%d").to_numpy()
    seq = rng.integers(0, 500, len(birth)) * 2 + np.where(female, 0, 1)
    for _ in range(100):
        body = np.char.add(np.char.add(area, ymd.astype(str)),
                           np.char.zfill(seq.astype(str), 3))
        dup = pd.Series(body).duplicated().to_numpy()
        if not dup.any():
            break
        seq[dup] = rng.integers(0, 500, int(dup.sum())) * 2 + np.where(female[dup], 0, 1)
    else:
        raise ValueError("cannot make ID numbers unique: too many people share a birth date")
    digits = np.frombuffer(body.astype("S17").tobytes(), dtype=np.uint8).reshape(-1, 17) - 48
    check = np.array(list(ID_CHECK))[(digits * ID_WEIGHTS).sum(axis=1) % 11]
    return np.char.add(body, check).astype(object)


def id_check_digit(first17: str) -> str:
    """Return the GB 11643 check character of the first 17 digits of an ID number."""
    total = sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK[total % 11]


def _phones(rng: np.random.Generator, n: int) -> np.ndarray:
    prefixes = rng.choice(np.array(MOBILE_PREFIXES), n)
    nums = rng.integers(0, 10**8, n)
    phones = np.char.add(prefixes, np.char.zfill(nums.astype(str), 8))
    while (dup := pd.Series(phones).duplicated().to_numpy()).any():
        phones[dup] = np.char.add(prefixes[dup], np.char.zfill(
            rng.integers(0, 10**8, int(dup.sum())).astype(str), 8))
    return phones.astype(object)


def _id_expiry(rng: np.random.Generator, age: np.ndarray) -> np.ndarray:
    """Return the current ID card's expiry: 10 years if issued under 26, 20 under 46, else none."""
    issue = np.maximum(16.0, age - rng.uniform(0, 20, len(age)))
    for _ in range(4):  # a card that ran out was renewed at its expiry
        valid = np.where(issue < 26, 10.0, 20.0)
        ran_out = (issue + valid <= age) & (issue < 46)
        issue = np.where(ran_out, issue + valid, issue)
    valid = np.where(issue < 26, 10.0, 20.0)
    expiry_years = issue + valid - age  # years from AS_OF, > 0
    late = rng.random(len(age)) < 0.01  # ran out and not renewed yet
    expiry_years = np.where(late, -rng.uniform(0, 60, len(age)) / 365.25, expiry_years)
    days = np.round(expiry_years * 365.25).astype("int64")
    out = np.datetime64(AS_OF, "D") + days.astype("timedelta64[D]")
    return np.where((age >= 16) & (issue < 46), out, np.datetime64("NaT"))


def generate(district_dir: Path, residents: int = 0, seed: int = SEED) -> pd.DataFrame:
    """Return the resident registry of a district; `residents` scales the households (0 = as is)."""
    district = load_district(district_dir)
    rng = np.random.default_rng([seed, 5])
    p = People(rng)
    scale = 1.0 if not residents else residents / (2.69 * sum(g.households
                                                              for g in district.grids))
    hh_no = 0
    first_building: dict[str, int] = {}
    for g in district.grids:
        community = _community(district.station(g.station).name)
        n = max(1, round(g.households * scale))
        start = first_building.get(g.station, 1)
        per = 20 if community.endswith(VILLAGE_SUFFIXES) else ROOMS_PER_BUILDING
        first_building[g.station] = start + math.ceil(n / per)
        for k in range(n):
            hh_no += 1
            _household(p, g.code, f"H{hh_no:07d}", _address(community, k, start))
    df = pd.DataFrame(p.cols)
    n = len(df)
    age = df.pop("age").to_numpy()
    female = df.pop("female").to_numpy(dtype=bool)
    birth = np.datetime64(AS_OF, "D") - np.round(age * 365.25).astype("int64").astype(
        "timedelta64[D]")
    born_year = birth.astype("datetime64[Y]").astype(int) + 1970
    df.insert(0, "rid", [f"R{i + 1:07d}" for i in range(n)])
    df.insert(1, "name", df.pop("surname").to_numpy(dtype=object) +
              _given_names(rng, born_year, female))
    df.insert(2, "sex", np.where(female, "F", "M"))
    df.insert(3, "birth", birth)
    df.insert(4, "id_no", _id_numbers(rng, district.code, birth, female))
    phone = _phones(rng, n)
    has_phone = (age >= 16) & ((age < 60) | (rng.random(n) < 0.85))
    df.insert(5, "phone", np.where(has_phone, phone, None))
    party_share = np.where(age >= 60, PARTY_SHARE[1], PARTY_SHARE[0])
    df["party_member"] = (age >= 18) & (rng.random(n) < party_share)
    df["lease_end"] = pd.to_datetime(df["lease_end"]).to_numpy().astype("datetime64[D]")
    df["id_expiry"] = _id_expiry(rng, age)
    elder_alone = df["living_alone"].to_numpy() & (age >= 60)
    visit = np.datetime64(AS_OF, "D") - rng.integers(0, 10, n).astype("timedelta64[D]")
    df["last_visit"] = np.where(elder_alone, visit, np.datetime64("NaT"))
    return df


SCHEMA = pa.schema([
    ("rid", pa.string()), ("name", pa.string()), ("sex", pa.string()), ("birth", pa.date32()),
    ("id_no", pa.string()), ("phone", pa.string()), ("grid", pa.string()),
    ("household", pa.string()), ("relation", pa.string()), ("living_alone", pa.bool_()),
    ("tenant", pa.bool_()), ("lease_holder", pa.bool_()), ("lease_end", pa.date32()),
    ("address", pa.string()), ("party_member", pa.bool_()), ("id_expiry", pa.date32()),
    ("last_visit", pa.date32()),
])


def write(df: pd.DataFrame, path: Path) -> None:
    """Write the registry as zstd-compressed Parquet with the fixed schema."""
    table = pa.Table.from_pandas(df[SCHEMA.names], schema=SCHEMA, preserve_index=False)
    pq.write_table(table, path, compression="zstd", compression_level=15,
                   use_dictionary=["sex", "grid", "relation", "address"])


def write_people(out: Path, ctx: object = None) -> None:
    """Write residents.parquet of a district folder (a gen_district writer: runs last)."""
    df = generate(out)
    write(df, out / "residents.parquet")
    print(f"wrote {len(df)} residents to {out / 'residents.parquet'}")


def main(argv: list[str] | None = None) -> None:
    """Generate residents.parquet into a district folder."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--district", type=Path, default=DEFAULT_DISTRICT, help="district folder")
    ap.add_argument("--residents", type=int, default=0, help="about this many (0 = by households)")
    ap.add_argument("--out", type=Path, help="output file (default <district>/residents.parquet)")
    args = ap.parse_args(argv)
    df = generate(args.district, args.residents)
    out = args.out or args.district / "residents.parquet"
    write(df, out)
    print(f"wrote {len(df)} residents in {df['household'].nunique()} households to {out} "
          f"({out.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
