"""The exchange registry: the article's totals, the audit rule, and clear errors for bad files."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from dashboard.config import ROOT
from dashboard.district import DistrictError, load_district
from dashboard.exchange import (
    CONDITIONAL,
    NO_APPROVAL,
    NOT_SHARED,
    UNCONDITIONAL,
    Approval,
    Call,
    Catalog,
    Interface,
    Registry,
    load_registry,
)
from dashboard.models import Department

DONGLI = ROOT / "data" / "districts" / "dongli"
TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 5, 28, 10, 0, tzinfo=TZ).timestamp()


@pytest.fixture(scope="module")
def dongli():
    return load_registry(DONGLI, load_district(DONGLI))


@pytest.fixture
def copy(tmp_path):
    folder = tmp_path / "district"
    shutil.copytree(DONGLI, folder)
    return folder


def _edit(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


# ---- the default district matches the article ----------------------------------------------
def test_the_default_district_has_the_articles_totals(dongli):
    assert len(dongli.units) == 40
    assert sum(d.kind == "street" for d in dongli.units.values()) == 7
    assert len(dongli.catalogs) == 1457
    assert dongli.items == 21661
    assert len(dongli.interfaces) == 8


def test_sharing_classes_have_the_articles_shares(dongli):
    counts = dongli.sharing_counts()
    shares = {k: round(100 * v / 1457, 2) for k, v in counts.items()}
    assert shares == {UNCONDITIONAL: 15.1, CONDITIONAL: 79.34, NOT_SHARED: 5.56}


def test_civil_affairs_mounts_the_most_resources(dongli):
    first, second = dongli.mounted()[:2]
    assert first["name"] == "民政局"
    assert first["catalogs"] > second["catalogs"]
    assert sum(r["catalogs"] for r in dongli.mounted()) == 1457


def test_the_eight_interfaces_include_personal_identity_query(dongli):
    names = {i.name for i in dongli.interfaces.values()}
    assert "个人身份查询" in names
    assert {"户籍信息查询", "婚姻登记信息查询", "社保参保信息查询", "企业登记信息查询",
            "不动产登记信息查询", "机动车信息查询", "低保救助信息查询"} <= names


def test_every_interface_serves_catalogs_of_its_provider(dongli):
    for iface in dongli.interfaces.values():
        served = [c for c in dongli.catalogs.values() if iface.code in c.interfaces]
        assert served and all(c.unit == iface.provider for c in served)


def test_catalog_names_are_chinese_unique_in_the_district_and_never_double_a_word(dongli):
    names = [c.name for c in dongli.catalogs.values()]
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in n) for n in names)
    assert len(set(names)) == len(names)
    assert [n for n in names if re.search(r"(..)\1", n)] == []  # not 身份证办理办理信息


def test_file_approvals_are_for_conditional_catalogs_of_other_units(dongli):
    approvals = [a for found in dongli.approvals.values() for a in found]
    assert approvals
    for a in approvals:
        cat = dongli.catalogs[a.catalog]
        assert cat.sharing == CONDITIONAL and cat.unit != a.unit


def test_the_generator_reproduces_the_shipped_files(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_exchange.py"), "--out",
                    str(tmp_path)], check=True, capture_output=True)
    for name in ("catalogs.csv", "interfaces.csv", "approvals.csv"):
        assert (tmp_path / name).read_bytes() == (DONGLI / name).read_bytes(), name


# ---- the audit rule, on literal data --------------------------------------------------------
def _registry() -> Registry:
    units = {u: Department(u, n, "department") for u, n in
             (("gongan", "公安东丽分局"), ("minzheng", "民政局"), ("renshe", "人社局"))}
    iface = Interface("identity", "个人身份查询", "gongan")
    cats = [Catalog("ga-1", "常住人口基本信息", "gongan", 30, CONDITIONAL, ("identity",)),
            Catalog("ga-2", "重点人员管控信息", "gongan", 12, NOT_SHARED, ("identity",)),
            Catalog("ga-3", "派出所辖区分布信息", "gongan", 8, UNCONDITIONAL, ("identity",)),
            Catalog("ga-4", "警情台账", "gongan", 9, CONDITIONAL, ())]
    until = datetime(2026, 6, 30, tzinfo=TZ).timestamp()
    return Registry(units, {c.id: c for c in cats}, {"identity": iface},
                    {("ga-1", "minzheng"): (Approval("ga-1", "minzheng", T0 - 86400, until),)})


def _call(caller="minzheng", catalog="ga-1", ts=T0, provider="gongan", interface="identity"):
    return Call(ts, caller, provider, interface, catalog, True, 40)


def test_an_unconditional_catalog_is_open_to_every_unit():
    assert _registry().violation(_call("renshe", "ga-3")) is None


def test_a_not_shared_catalog_is_a_violation_for_any_other_unit():
    assert _registry().violation(_call("minzheng", "ga-2")) == NOT_SHARED


def test_a_unit_reads_its_own_catalogs_freely():
    assert _registry().violation(_call("gongan", "ga-2")) is None


def test_a_conditional_catalog_needs_an_approval_of_the_calling_unit():
    reg = _registry()
    assert reg.violation(_call("minzheng", "ga-1")) is None
    assert reg.violation(_call("renshe", "ga-1")) == NO_APPROVAL


def test_an_approval_covers_calls_from_since_until_its_end_only():
    reg = _registry()
    assert reg.violation(_call(ts=T0 - 2 * 86400)) == NO_APPROVAL
    assert reg.violation(_call(ts=datetime(2026, 6, 29, 23, 59, tzinfo=TZ).timestamp())) is None
    assert reg.violation(_call(ts=datetime(2026, 6, 30, 0, 0, tzinfo=TZ).timestamp())) == (
        NO_APPROVAL)


def test_approvals_granted_later_count_too():
    granted = {("ga-1", "renshe"): (Approval("ga-1", "renshe", T0 - 60),)}
    assert _registry().violation(_call("renshe", "ga-1"), granted) is None


@pytest.mark.parametrize("call,reason", [
    (_call(caller="nobody"), "unknown calling unit: nobody"),
    (_call(catalog="ga-9"), "unknown catalog: ga-9"),
    (_call(interface="vehicle"), "unknown interface: vehicle"),
    (_call(provider="minzheng"), "catalog ga-1 is provided by gongan, not minzheng"),
    (_call(catalog="ga-4"), "interface identity does not serve catalog ga-4"),
])
def test_calls_that_do_not_fit_the_registry_are_refused_with_a_reason(call, reason):
    assert _registry().problem(call) == reason


@pytest.mark.parametrize("catalog,unit,reason", [
    ("ga-3", "renshe", "catalog ga-3 is unconditional: only conditional catalogs take approvals"),
    ("ga-2", "renshe", "catalog ga-2 is not_shared: only conditional catalogs take approvals"),
    ("ga-1", "gongan", "unit gongan owns catalog ga-1"),
    ("ga-1", "nobody", "unknown unit: nobody"),
])
def test_only_conditional_catalogs_of_other_units_take_approvals(catalog, unit, reason):
    assert _registry().approval_problem(catalog, unit) == reason


# ---- files a city replaces ------------------------------------------------------------------
def test_a_district_without_catalogs_has_an_empty_registry(copy):
    for name in ("catalogs.csv", "interfaces.csv", "approvals.csv"):
        (copy / name).unlink()
    reg = load_registry(copy, load_district(copy))
    assert reg.catalogs == {} and len(reg.units) == 40


def test_chinese_sharing_class_names_are_accepted(copy):
    _edit(copy / "catalogs.csv", ",conditional,", ",有条件共享,")
    reg = load_registry(copy, load_district(copy))
    assert reg.sharing_counts()[CONDITIONAL] == 1156


def test_a_catalog_of_an_unknown_unit_names_file_and_line(copy):
    _edit(copy / "catalogs.csv", "minzheng-001,婚姻登记办理信息,minzheng,",
          "minzheng-001,婚姻登记办理信息,nowhere,")
    with pytest.raises(DistrictError, match=r"catalogs\.csv: line 2: unknown unit 'nowhere'"):
        load_registry(copy, load_district(copy))


def test_an_unknown_sharing_class_fails(copy):
    _edit(copy / "catalogs.csv", ",conditional,", ",maybe,")
    with pytest.raises(DistrictError, match=r"catalogs\.csv: line \d+: sharing must be one of"):
        load_registry(copy, load_district(copy))


def test_a_catalog_served_by_another_units_interface_fails(copy):
    _edit(copy / "catalogs.csv", ",marriage\n", ",identity\n")
    with pytest.raises(DistrictError, match=r"interface identity is provided by gongan, not "
                                            r"minzheng"):
        load_registry(copy, load_district(copy))


def test_an_approval_of_an_unconditional_catalog_fails(copy):
    reg = load_registry(copy, load_district(copy))
    free = next(c.id for c in reg.catalogs.values() if c.sharing == UNCONDITIONAL)
    with (copy / "approvals.csv").open("a", encoding="utf-8") as f:
        f.write(f"{free},minzheng,2019-05-01,,admin\n")
    with pytest.raises(DistrictError, match=r"approvals\.csv: line \d+: catalog .* is "
                                            r"unconditional"):
        load_registry(copy, load_district(copy))


def test_a_bad_approval_date_fails(copy):
    with (copy / "approvals.csv").open("a", encoding="utf-8") as f:
        f.write("gongan-001,minzheng,01/05/2019,,admin\n")
    with pytest.raises(DistrictError, match=r"'01/05/2019' is not a YYYY-MM-DD date"):
        load_registry(copy, load_district(copy))


def test_catalogs_without_interfaces_file_fail(copy):
    (copy / "interfaces.csv").unlink()
    with pytest.raises(DistrictError, match=r"interfaces\.csv: file: missing"):
        load_registry(copy, load_district(copy))
