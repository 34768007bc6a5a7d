"""Write the patrol item catalog (patrol_items.csv) of the default district.

Run: .venv/bin/python scripts/gen_catalog.py [--out data/districts/dongli]
(scripts/gen_district.py calls write_patrol_items too).

One row per patrol item (巡查事项) a grid worker can report: its code (the Open311
service_code), Chinese and English names, one of the five categories, the specialty,
the handling department (a code of departments.csv, or ``@street`` for the street office
of the place), the default urgency and the time limit per urgency: ``<n>h`` hours or
``<n>wd`` working days (Monday–Friday in the district's time zone).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "data" / "districts" / "dongli"
COLUMNS = ["code", "name", "name_en", "category", "specialty", "department", "urgency",
           "urgent", "normal", "routine"]

# Time limits per category: (urgent, normal, routine).
LIMITS = {
    "city": ("2h", "24h", "3wd"),
    "safety": ("1h", "12h", "2wd"),
    "environment": ("2h", "24h", "3wd"),
    "security": ("1h", "24h", "3wd"),
    "dispute": ("4h", "48h", "5wd"),
}

U, N, R = "urgent", "normal", "routine"
S = "@street"

# (code, name, name_en, specialty, department, urgency)
CITY = [
    ("CG001", "占道经营", "Street vending on the roadway", "市容环境", "chengguan", N),
    ("CG002", "店外经营", "Business spilling out of the shop", "市容环境", S, R),
    ("CG003", "流动摊贩", "Mobile hawkers", "市容环境", "chengguan", N),
    ("CG004", "露天烧烤", "Open-air barbecue", "市容环境", "chengguan", N),
    ("CG005", "乱堆物料", "Materials piled in public space", "市容环境", S, N),
    ("CG006", "垃圾堆积", "Garbage pile-up", "市容环境", S, N),
    ("CG007", "垃圾桶满溢", "Overflowing bins", "市容环境", S, N),
    ("CG008", "暴露垃圾", "Exposed garbage", "市容环境", S, N),
    ("CG009", "建筑垃圾乱倒", "Construction waste dumped", "市容环境", "chengguan", N),
    ("CG010", "渣土车遗撒", "Spillage from muck trucks", "市容环境", "chengguan", U),
    ("CG011", "乱张贴小广告", "Illegal flyers", "市容环境", S, R),
    ("CG012", "乱涂写乱刻画", "Graffiti", "市容环境", S, R),
    ("CG013", "违规户外广告", "Unauthorized outdoor advertising", "市容环境", "chengguan", R),
    ("CG014", "广告牌破损", "Damaged billboard at risk of falling", "市容环境", "chengguan", U),
    ("CG015", "乱拉乱挂", "Banners and wires strung illegally", "市容环境", S, R),
    ("CG016", "沿街晾晒", "Laundry hung along the street", "市容环境", S, R),
    ("CG017", "道路不洁", "Dirty road surface", "市容环境", S, N),
    ("CG018", "公厕脏乱", "Dirty public toilet", "市容环境", "chengguan", N),
    ("CG019", "井盖缺失", "Missing manhole cover", "市政设施", "shuiwu", U),
    ("CG020", "井盖破损", "Broken manhole cover", "市政设施", "shuiwu", U),
    ("CG021", "雨水篦子缺失", "Missing storm drain grate", "市政设施", "shuiwu", U),
    ("CG022", "道路坑洼", "Potholes", "市政设施", "jiaotong", N),
    ("CG023", "人行道破损", "Broken sidewalk paving", "市政设施", "chengguan", N),
    ("CG024", "路灯不亮", "Street light out", "市政设施", "chengguan", N),
    ("CG025", "路灯杆倾斜", "Leaning lamp post", "市政设施", "chengguan", U),
    ("CG026", "交通标志损坏", "Damaged traffic sign", "交通秩序", "jiaojing", N),
    ("CG027", "交通信号灯故障", "Traffic signal fault", "交通秩序", "jiaojing", U),
    ("CG028", "道路护栏损坏", "Damaged guardrail", "市政设施", "jiaotong", N),
    ("CG029", "公交站亭损坏", "Damaged bus shelter", "市政设施", "jiaotong", R),
    ("CG030", "供水管道破裂", "Burst water main", "市政设施", "shuiwu", U),
    ("CG031", "污水冒溢", "Sewage overflow", "市政设施", "shuiwu", U),
    ("CG032", "道路积水", "Waterlogged road", "市政设施", "shuiwu", U),
    ("CG033", "排水设施堵塞", "Blocked drain", "市政设施", "shuiwu", N),
    ("CG034", "绿地损毁", "Damaged green space", "园林绿化", "chengguan", R),
    ("CG035", "树木倒伏", "Fallen tree", "园林绿化", "chengguan", U),
    ("CG036", "树枝遮挡路灯标志", "Branches blocking lights or signs", "园林绿化", "chengguan", R),
    ("CG037", "毁绿种菜", "Vegetable plots on public green", "园林绿化", S, R),
    ("CG038", "枯死树木", "Dead tree", "园林绿化", "chengguan", R),
    ("CG039", "违法建设", "Illegal construction", "违法建设", "chengguan", N),
    ("CG040", "私搭乱建", "Unauthorized shed or extension", "违法建设", S, N),
    ("CG041", "装修拆改承重结构", "Load-bearing structure altered in renovation", "违法建设",
     "zhujian", U),
    ("CG042", "占用公共用地建房", "Building on public land", "违法建设", "guihua", N),
    ("CG043", "机动车违停人行道", "Illegal parking on a sidewalk", "交通秩序", "jiaojing", N),
    ("CG044", "非机动车乱停放", "Bicycles parked in disorder", "交通秩序", S, R),
    ("CG045", "共享单车堆积", "Shared bikes piled up", "交通秩序", "jiaotong", R),
    ("CG046", "僵尸车", "Abandoned vehicle", "交通秩序", "jiaojing", R),
    ("CG047", "私设地锁", "Private parking locks", "交通秩序", S, R),
    ("CG048", "占道施工未围挡", "Roadworks without barriers", "市政设施", "chengguan", U),
    ("CG049", "施工围挡破损", "Damaged construction hoarding", "市政设施", "zhujian", N),
    ("CG050", "化粪池满溢", "Septic tank overflow", "市容环境", S, N),
    ("CG051", "居民区饲养家禽", "Poultry kept in a residential area", "市容环境", S, R),
    ("CG052", "门前三包不落实", "Shopfront duties neglected", "市容环境", S, R),
    ("CG053", "大件垃圾乱堆", "Bulky waste dumped", "市容环境", S, N),
    ("CG054", "回收站点脏乱", "Messy recycling point", "市容环境", "shangwu", R),
]

SAFETY = [
    ("AQ001", "消防通道堵塞", "Fire lane blocked", "消防安全", "xiaofang", U),
    ("AQ002", "安全出口封堵", "Emergency exit locked", "消防安全", "xiaofang", U),
    ("AQ003", "楼道堆放杂物", "Clutter in stairwells", "消防安全", S, N),
    ("AQ004", "电动车楼道充电", "E-bike charging in a corridor", "消防安全", "xiaofang", U),
    ("AQ005", "飞线充电", "Charging cable strung from a window", "消防安全", S, U),
    ("AQ006", "消防设施损坏", "Damaged fire equipment", "消防安全", "xiaofang", N),
    ("AQ007", "消火栓损坏", "Damaged fire hydrant", "消防安全", "xiaofang", N),
    ("AQ008", "燃气泄漏异味", "Gas smell", "燃气安全", "chengguan", U),
    ("AQ009", "燃气管线违规占压", "Structure built over a gas pipeline", "燃气安全", "chengguan",
     N),
    ("AQ010", "违规使用液化气瓶", "Illegal LPG cylinders in a restaurant", "燃气安全",
     "chengguan", U),
    ("AQ011", "三合一场所", "Live-work-store premises", "消防安全", "xiaofang", U),
    ("AQ012", "群租房安全隐患", "Overcrowded rental hazard", "消防安全", S, N),
    ("AQ013", "危险化学品违规存放", "Hazardous chemicals stored unsafely", "安全生产", "yingji", U),
    ("AQ014", "非法加油点", "Illegal fuel selling", "安全生产", "yingji", U),
    ("AQ015", "违规销售烟花爆竹", "Illegal fireworks sales", "安全生产", "yingji", U),
    ("AQ016", "小作坊安全隐患", "Workshop safety hazard", "安全生产", "yingji", N),
    ("AQ017", "有限空间违规作业", "Unsafe confined-space work", "安全生产", "yingji", U),
    ("AQ018", "建筑工地安全隐患", "Construction site hazard", "安全生产", "zhujian", U),
    ("AQ019", "脚手架不稳", "Unstable scaffolding", "安全生产", "zhujian", U),
    ("AQ020", "危房", "Dangerous building", "安全生产", "zhujian", U),
    ("AQ021", "外墙脱落", "Facade falling off", "安全生产", "zhujian", U),
    ("AQ022", "电梯故障困人", "Lift fault, people trapped", "安全生产", "shichang", U),
    ("AQ023", "电梯超期未检", "Lift inspection overdue", "安全生产", "shichang", R),
    ("AQ024", "电线私拉乱接", "Illegal wiring", "安全生产", S, N),
    ("AQ025", "电力设施隐患", "Power equipment hazard", "安全生产", "yingji", U),
    ("AQ026", "高空坠物隐患", "Falling-object risk", "安全生产", "zhujian", U),
    ("AQ027", "河道防护栏缺失", "Missing river railings", "安全生产", "shuiwu", N),
    ("AQ028", "坑塘无警示标志", "Unmarked pond or pit", "安全生产", "shuiwu", N),
    ("AQ029", "冰面安全隐患", "Thin ice hazard", "安全生产", "shuiwu", U),
    ("AQ030", "无证经营食品", "Unlicensed food business", "食品药品", "shichang", N),
    ("AQ031", "销售过期食品", "Expired food on sale", "食品药品", "shichang", N),
    ("AQ032", "餐饮后厨脏乱", "Unhygienic restaurant kitchen", "食品药品", "shichang", N),
    ("AQ033", "无证行医", "Unlicensed clinic", "食品药品", "weijian", N),
    ("AQ034", "非法销售药品", "Illegal drug sales", "食品药品", "shichang", U),
    ("AQ035", "校园周边食品安全", "Food safety near a school", "食品药品", "shichang", N),
    ("AQ036", "锅炉等特种设备隐患", "Boiler or special equipment hazard", "安全生产", "shichang",
     U),
    ("AQ037", "游乐设施隐患", "Amusement ride hazard", "安全生产", "shichang", N),
    ("AQ038", "健身器材损坏", "Broken fitness equipment", "市政设施", "tiyu", R),
    ("AQ039", "道路塌陷", "Road subsidence", "市政设施", "jiaotong", U),
    ("AQ040", "积雪结冰未清", "Snow and ice not cleared", "市容环境", S, U),
    ("AQ041", "老旧小区消防隐患", "Old estate fire hazard", "消防安全", "xiaofang", N),
    ("AQ042", "自建房安全隐患", "Self-built house hazard", "安全生产", "zhujian", N),
]

ENVIRONMENT = [
    ("HB001", "露天焚烧", "Smoke from open burning", "生态环境", "shengtai", U),
    ("HB002", "焚烧秸秆", "Burning straw", "生态环境", "nongye", U),
    ("HB003", "焚烧垃圾", "Burning garbage", "生态环境", S, U),
    ("HB004", "工地扬尘", "Construction dust", "生态环境", "zhujian", N),
    ("HB005", "道路扬尘", "Road dust", "生态环境", "chengguan", N),
    ("HB006", "裸土未苫盖", "Uncovered bare soil", "生态环境", S, N),
    ("HB007", "散乱污企业", "Small polluting workshop", "生态环境", "shengtai", N),
    ("HB008", "异味扰民", "Odour nuisance", "生态环境", "shengtai", N),
    ("HB009", "餐饮油烟扰民", "Restaurant cooking fumes", "生态环境", "chengguan", N),
    ("HB010", "工业废气", "Industrial emissions", "生态环境", "shengtai", U),
    ("HB011", "锅炉冒黑烟", "Boiler black smoke", "生态环境", "shengtai", U),
    ("HB012", "污水直排", "Sewage discharged directly", "生态环境", "shengtai", U),
    ("HB013", "河道漂浮物", "Floating waste in a river", "生态环境", "shuiwu", N),
    ("HB014", "河道黑臭", "Black and smelly river", "生态环境", "shuiwu", N),
    ("HB015", "非法倾倒固废", "Illegal solid-waste dumping", "生态环境", "shengtai", U),
    ("HB016", "危险废物乱放", "Hazardous waste dumped", "生态环境", "shengtai", U),
    ("HB017", "夜间施工噪声", "Construction noise at night", "生态环境", "shengtai", U),
    ("HB018", "夜间社会生活噪声", "Noise at night", "生态环境", "gongan", N),
    ("HB019", "商铺高音喇叭", "Shop loudspeakers", "生态环境", "chengguan", N),
    ("HB020", "工业噪声", "Industrial noise", "生态环境", "shengtai", N),
    ("HB021", "机动车冒黑烟", "Smoky vehicle", "生态环境", "shengtai", R),
    ("HB022", "散煤燃烧", "Loose coal burning", "生态环境", "shengtai", N),
    ("HB023", "垃圾分类不规范", "Waste not sorted", "市容环境", S, R),
    ("HB024", "畜禽养殖污染", "Livestock farm pollution", "生态环境", "nongye", N),
    ("HB025", "沟渠垃圾", "Rubbish in ditches", "生态环境", S, N),
    ("HB026", "非法采砂取土", "Illegal sand or soil extraction", "生态环境", "guihua", N),
    ("HB027", "毁坏林地", "Woodland destroyed", "园林绿化", "guihua", N),
    ("HB028", "医疗废物处置不当", "Medical waste mishandled", "生态环境", "weijian", U),
    ("HB029", "汽修露天喷漆", "Open-air spray painting", "生态环境", "shengtai", N),
    ("HB030", "渣土堆放未苫盖", "Uncovered earth piles", "生态环境", "chengguan", N),
    ("HB031", "加油站油气泄漏", "Petrol station vapour leak", "生态环境", "shengtai", N),
]

SECURITY = [
    ("ZA001", "可疑人员", "Suspicious person", "治安防控", "gongan", U),
    ("ZA002", "可疑物品", "Suspicious object", "治安防控", "gongan", U),
    ("ZA003", "打架斗殴", "Fight", "治安防控", "gongan", U),
    ("ZA004", "盗窃线索", "Theft lead", "治安防控", "gongan", N),
    ("ZA005", "电动车被盗", "E-bike stolen", "治安防控", "gongan", N),
    ("ZA006", "聚众赌博", "Gambling", "治安防控", "gongan", U),
    ("ZA007", "涉黄线索", "Prostitution lead", "治安防控", "gongan", N),
    ("ZA008", "涉毒线索", "Drug lead", "治安防控", "gongan", U),
    ("ZA009", "电信诈骗线索", "Telecom fraud lead", "治安防控", "gongan", N),
    ("ZA010", "非法集资线索", "Illegal fund-raising lead", "治安防控", "gongan", N),
    ("ZA011", "传销线索", "Pyramid selling lead", "治安防控", "shichang", N),
    ("ZA012", "流动人口未登记", "Unregistered migrant residents", "治安防控", "gongan", R),
    ("ZA013", "出租房屋未登记", "Unregistered rental housing", "治安防控", "gongan", R),
    ("ZA014", "重点人员异常", "Person under watch behaving abnormally", "治安防控", "gongan", U),
    ("ZA015", "精神障碍患者肇事隐患", "Risk from a person with mental illness", "治安防控",
     "weijian", U),
    ("ZA016", "社区矫正人员异常", "Community corrections person absent", "治安防控", "sifa", N),
    ("ZA017", "刑满释放人员帮教", "Released prisoner needs support", "治安防控", "sifa", R),
    ("ZA018", "吸毒人员异常", "Drug user behaving abnormally", "治安防控", "gongan", U),
    ("ZA019", "黑车非法营运", "Illegal taxi", "交通秩序", "jiaotong", N),
    ("ZA020", "办证小广告", "Fake-certificate flyers", "治安防控", "gongan", R),
    ("ZA021", "校园周边治安", "Disorder near a school", "治安防控", "gongan", N),
    ("ZA022", "网吧接纳未成年人", "Minors in an internet cafe", "治安防控", "wenlv", N),
    ("ZA023", "娱乐场所违规经营", "Entertainment venue violations", "治安防控", "wenlv", N),
    ("ZA024", "销售非法出版物", "Illegal publications on sale", "治安防控", "wenlv", R),
    ("ZA025", "儿童无人看管", "Unattended child", "治安防控", "minzheng", U),
    ("ZA026", "流浪乞讨人员", "Homeless person in need", "治安防控", "minzheng", N),
    ("ZA027", "独居老人异常", "Lone elderly person not seen", "治安防控", "minzheng", U),
    ("ZA028", "技防设施损坏", "Broken security camera", "治安防控", "gongan", R),
    ("ZA029", "寄递物流违规", "Courier security violation", "治安防控", "gongan", R),
    ("ZA030", "违规放飞无人机", "Illegal drone flying", "治安防控", "gongan", N),
    ("ZA031", "销售管制刀具", "Sale of controlled knives", "治安防控", "gongan", N),
]

DISPUTE = [
    ("MD001", "邻里纠纷", "Neighbour dispute", "矛盾调解", S, N),
    ("MD002", "家庭纠纷", "Family dispute", "矛盾调解", S, N),
    ("MD003", "家庭暴力", "Domestic violence", "矛盾调解", "fulian", U),
    ("MD004", "拖欠农民工工资", "Wage arrears of migrant workers", "劳动保障", "renshe", N),
    ("MD005", "劳动合同纠纷", "Labour contract dispute", "劳动保障", "renshe", N),
    ("MD006", "社保纠纷", "Social insurance dispute", "劳动保障", "renshe", R),
    ("MD007", "物业纠纷", "Property management dispute", "矛盾调解", "zhujian", N),
    ("MD008", "供暖纠纷", "Heating dispute", "矛盾调解", "chengguan", N),
    ("MD009", "房屋租赁纠纷", "Tenancy dispute", "矛盾调解", "zhujian", R),
    ("MD010", "土地权属纠纷", "Land ownership dispute", "矛盾调解", "guihua", N),
    ("MD011", "征收拆迁纠纷", "Demolition and relocation dispute", "矛盾调解", "zhujian", N),
    ("MD012", "消费纠纷", "Consumer dispute", "矛盾调解", "shichang", R),
    ("MD013", "预付卡退费纠纷", "Prepaid card refund dispute", "矛盾调解", "shangwu", R),
    ("MD014", "医患纠纷", "Doctor-patient dispute", "矛盾调解", "weijian", N),
    ("MD015", "校园纠纷", "School dispute", "矛盾调解", "jiaoyu", N),
    ("MD016", "交通事故纠纷", "Traffic accident dispute", "矛盾调解", "jiaojing", N),
    ("MD017", "群体性上访苗头", "Signs of a group petition", "矛盾调解", "xinfang", U),
    ("MD018", "个人信访诉求", "Individual petition", "矛盾调解", "xinfang", R),
    ("MD019", "赡养纠纷", "Elderly support dispute", "矛盾调解", "sifa", N),
    ("MD020", "继承纠纷", "Inheritance dispute", "矛盾调解", "sifa", R),
    ("MD021", "民间借贷纠纷", "Private debt dispute", "矛盾调解", "sifa", R),
    ("MD022", "退役军人诉求", "Veteran's appeal", "矛盾调解", "tuijun", R),
    ("MD023", "残疾人帮扶诉求", "Disabled person needs help", "矛盾调解", "canlian", R),
    ("MD024", "低保救助诉求", "Subsistence allowance request", "矛盾调解", "minzheng", R),
    ("MD025", "医保报销纠纷", "Medical insurance reimbursement dispute", "矛盾调解", "yibao", R),
    ("MD026", "农村承包地纠纷", "Rural contract land dispute", "矛盾调解", "nongye", N),
    ("MD027", "业委会选举纠纷", "Owners' committee dispute", "矛盾调解", S, R),
    ("MD028", "停车位纠纷", "Parking space dispute", "矛盾调解", S, R),
    ("MD029", "宠物扰民纠纷", "Pet nuisance dispute", "矛盾调解", S, R),
    ("MD030", "楼上漏水纠纷", "Water leak between flats", "矛盾调解", S, N),
    ("MD031", "装修扰民纠纷", "Renovation nuisance dispute", "矛盾调解", S, N),
    ("MD032", "工伤纠纷", "Work injury dispute", "劳动保障", "renshe", N),
    ("MD033", "讨薪聚集", "Wage protest gathering", "劳动保障", "renshe", U),
    ("MD034", "网络舆情苗头", "Online public-opinion risk", "矛盾调解", "wangxin", U),
]

CATALOG = {"city": CITY, "safety": SAFETY, "environment": ENVIRONMENT, "security": SECURITY,
           "dispute": DISPUTE}


def rows() -> list[list[str]]:
    """Return every catalog row in file order."""
    out = []
    for category, items in CATALOG.items():
        urgent, normal, routine = LIMITS[category]
        for code, name, name_en, specialty, dept, urgency in items:
            out.append([code, name, name_en, category, specialty, dept, urgency, urgent,
                        normal, routine])
    return out


def write_patrol_items(out: Path, ctx: object = None) -> None:
    """Write patrol_items.csv into a district folder (ctx is unused: the catalog is fixed)."""
    with (out / "patrol_items.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(COLUMNS)
        w.writerows(rows())


def main(argv: list[str] | None = None) -> None:
    """Write the catalog into the district folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="district folder")
    out = parser.parse_args(argv).out
    out.mkdir(parents=True, exist_ok=True)
    write_patrol_items(out)
    print(f"wrote {len(rows())} patrol items to {out / 'patrol_items.csv'}")


if __name__ == "__main__":
    main()
