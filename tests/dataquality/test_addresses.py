"""Addresses: free text -> 省/市/区/detail, canonical line, problems. Pure: no database."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kehu.dataquality.normalize.addresses import (
    DEFAULT_CITY_ALIASES,
    MESSAGES,
    Address,
    normalize_address,
    normalize_address_parts,
    quick_address,
)
from kehu.dataquality.normalize.regions import BY_ADCODE, resolve_name

# raw, province, city, district, detail
CASES: list[tuple[str, str, str, str, str]] = [
    ("北京市朝阳区建国路88号", "北京市", "北京市", "朝阳区", "建国路88号"),
    ("北京朝阳区建国路88号", "北京市", "北京市", "朝阳区", "建国路88号"),
    ("北京市北京市朝阳区建国路88号", "北京市", "北京市", "朝阳区", "建国路88号"),
    ("北京市市辖区朝阳区建国路88号", "北京市", "北京市", "朝阳区", "建国路88号"),
    ("北京海淀中关村大街27号", "北京市", "北京市", "海淀区", "中关村大街27号"),
    ("北京市海淀区中关村大街27号中关村大厦1201室", "北京市", "北京市", "海淀区", "中关村大街27号中关村大厦1201室"),
    ("海淀区中关村大街27号", "北京市", "北京市", "海淀区", "中关村大街27号"),
    ("BJ朝阳区望京SOHO T1", "北京市", "北京市", "朝阳区", "望京SOHO T1"),
    ("bj 朝阳区 望京", "北京市", "北京市", "朝阳区", "望京"),
    ("Beijing 朝阳区三里屯", "北京市", "北京市", "朝阳区", "三里屯"),
    ("京朝阳区三里屯", "北京市", "北京市", "朝阳区", "三里屯"),
    ("帝都海淀区五道口", "北京市", "北京市", "海淀区", "五道口"),
    ("中国北京市东城区王府井大街1号", "北京市", "北京市", "东城区", "王府井大街1号"),
    ("中华人民共和国北京市西城区金融街", "北京市", "北京市", "西城区", "金融街"),
    ("China 北京市朝阳区", "北京市", "北京市", "朝阳区", ""),
    ("上海市浦东新区世纪大道100号", "上海市", "上海市", "浦东新区", "世纪大道100号"),
    ("上海浦东新区陆家嘴环路1000号", "上海市", "上海市", "浦东新区", "陆家嘴环路1000号"),
    ("上海市黄浦区南京东路100号", "上海市", "上海市", "黄浦区", "南京东路100号"),
    ("上海南京东路1号", "上海市", "上海市", "", "南京东路1号"),
    ("沪徐汇区漕溪北路", "上海市", "上海市", "徐汇区", "漕溪北路"),
    ("魔都静安区南京西路", "上海市", "上海市", "静安区", "南京西路"),
    ("SH 黄浦区外滩", "上海市", "上海市", "黄浦区", "外滩"),
    ("Shanghai 浦东新区", "上海市", "上海市", "浦东新区", ""),
    ("天津市滨海新区第三大街", "天津市", "天津市", "滨海新区", "第三大街"),
    ("天津和平区南京路", "天津市", "天津市", "和平区", "南京路"),
    ("重庆市渝中区解放碑", "重庆市", "重庆市", "渝中区", "解放碑"),
    ("重庆渝北区金开大道", "重庆市", "重庆市", "渝北区", "金开大道"),
    ("重庆市忠县忠州镇", "重庆市", "重庆市", "忠县", "忠州镇"),
    ("渝中区民族路", "重庆市", "重庆市", "渝中区", "民族路"),
    ("广东省深圳市南山区科技园", "广东省", "深圳市", "南山区", "科技园"),
    ("深圳南山区科技园", "广东省", "深圳市", "南山区", "科技园"),
    ("深圳市南山区粤海街道", "广东省", "深圳市", "南山区", "粤海街道"),
    ("深圳南山科技园", "广东省", "深圳市", "南山区", "科技园"),
    ("广东深圳福田区深南大道", "广东省", "深圳市", "福田区", "深南大道"),
    ("Shenzhen 南山区", "广东省", "深圳市", "南山区", ""),
    ("广州市天河区天河路385号", "广东省", "广州市", "天河区", "天河路385号"),
    ("GZ天河区", "广东省", "广州市", "天河区", ""),
    ("羊城越秀区", "广东省", "广州市", "越秀区", ""),
    ("广东省广州市番禺区", "广东省", "广州市", "番禺区", ""),
    ("广东省东莞市长安镇", "广东省", "东莞市", "", "长安镇"),
    ("东莞长安镇", "广东省", "东莞市", "", "长安镇"),
    ("广东省中山市石岐区", "广东省", "中山市", "", "石岐区"),
    ("浙江省杭州市西湖区文三路", "浙江省", "杭州市", "西湖区", "文三路"),
    ("杭州西湖区文三路90号", "浙江省", "杭州市", "西湖区", "文三路90号"),
    ("Hangzhou 滨江区", "浙江省", "杭州市", "滨江区", ""),
    ("江苏省苏州市昆山市玉山镇", "江苏省", "苏州市", "昆山市", "玉山镇"),
    ("江苏昆山玉山镇", "江苏省", "苏州市", "昆山市", "玉山镇"),
    ("昆山市玉山镇", "江苏省", "苏州市", "昆山市", "玉山镇"),
    ("苏州工业园区星湖街", "江苏省", "苏州市", "", "工业园区星湖街"),
    ("江苏省南京市鼓楼区", "江苏省", "南京市", "鼓楼区", ""),
    ("南京市玄武区中山路", "江苏省", "南京市", "玄武区", "中山路"),
    ("内蒙古自治区呼和浩特市新城区", "内蒙古自治区", "呼和浩特市", "新城区", ""),
    ("内蒙古呼和浩特新城区", "内蒙古自治区", "呼和浩特市", "新城区", ""),
    ("内蒙呼和浩特", "内蒙古自治区", "呼和浩特市", "", ""),
    ("广西壮族自治区南宁市青秀区", "广西壮族自治区", "南宁市", "青秀区", ""),
    ("广西南宁青秀区", "广西壮族自治区", "南宁市", "青秀区", ""),
    ("西藏自治区拉萨市城关区", "西藏自治区", "拉萨市", "城关区", ""),
    ("新疆维吾尔自治区乌鲁木齐市天山区", "新疆维吾尔自治区", "乌鲁木齐市", "天山区", ""),
    ("新疆乌鲁木齐天山区", "新疆维吾尔自治区", "乌鲁木齐市", "天山区", ""),
    ("宁夏回族自治区银川市兴庆区", "宁夏回族自治区", "银川市", "兴庆区", ""),
    ("宁夏银川兴庆区", "宁夏回族自治区", "银川市", "兴庆区", ""),
    ("吉林省延边朝鲜族自治州延吉市", "吉林省", "延边朝鲜族自治州", "延吉市", ""),
    ("延边州延吉市", "吉林省", "延边朝鲜族自治州", "延吉市", ""),
    ("湖北省恩施土家族苗族自治州恩施市", "湖北省", "恩施土家族苗族自治州", "恩施市", ""),
    ("恩施州利川市", "湖北省", "恩施土家族苗族自治州", "利川市", ""),
    ("云南省大理白族自治州大理市", "云南省", "大理白族自治州", "大理市", ""),
    ("云南大理州大理市", "云南省", "大理白族自治州", "大理市", ""),
    ("四川省凉山彝族自治州西昌市", "四川省", "凉山彝族自治州", "西昌市", ""),
    ("湖北省仙桃市", "湖北省", "仙桃市", "", ""),
    ("河南省济源市", "河南省", "济源市", "", ""),
    ("新疆石河子市", "新疆维吾尔自治区", "石河子市", "", ""),
    ("海南省三亚市吉阳区", "海南省", "三亚市", "吉阳区", ""),
    ("海南三亚", "海南省", "三亚市", "", ""),
    ("吉林省吉林市船营区", "吉林省", "吉林市", "船营区", ""),
    ("吉林市船营区", "吉林省", "吉林市", "船营区", ""),
    ("吉林长春朝阳区", "吉林省", "长春市", "朝阳区", ""),
    ("长春市朝阳区人民大街", "吉林省", "长春市", "朝阳区", "人民大街"),
    ("朝阳区建国路", "", "", "", "朝阳区建国路"),
    ("朝阳区", "", "", "", "朝阳区"),
    ("北京市朝阳区", "北京市", "北京市", "朝阳区", ""),
    ("辽宁省朝阳市双塔区", "辽宁省", "朝阳市", "双塔区", ""),
    ("广东省北京市朝阳区", "北京市", "北京市", "朝阳区", ""),
    ("北京市南山区", "北京市", "北京市", "", "南山区"),
    ("上海市朝阳区", "上海市", "上海市", "", "朝阳区"),
    ("浙江省深圳市", "广东省", "深圳市", "", ""),
    ("北京市 朝阳区 建国路 88 号", "北京市", "北京市", "朝阳区", "建国路88号"),
    ("北京市\u3000朝阳区\u3000建国路８８号", "北京市", "北京市", "朝阳区", "建国路88号"),
    ("北京市朝阳区建国路８８号Ａ座１２０３", "北京市", "北京市", "朝阳区", "建国路88号A座1203"),
    ("  北京市朝阳区建国路88号  ", "北京市", "北京市", "朝阳区", "建国路88号"),
    ("100022 北京市朝阳区建国路88号", "北京市", "北京市", "朝阳区", "建国路88号"),
    ("北京市朝阳区建国路88号 100022", "北京市", "北京市", "朝阳区", "建国路88号"),
    ("北京市朝阳区建国路88号，邮编：100022", "北京市", "北京市", "朝阳区", "建国路88号"),
    ("地址：北京市朝阳区建国路88号", "北京市", "北京市", "朝阳区", "建国路88号"),
    ("收货地址: 上海市浦东新区", "上海市", "上海市", "浦东新区", ""),
    ("广东省, 深圳市, 南山区, 科技园", "广东省", "深圳市", "南山区", "科技园"),
    ("北京 朝阳区 建国路", "北京市", "北京市", "朝阳区", "建国路"),
    ("北京市-海淀区-中关村", "北京市", "北京市", "海淀区", "中关村"),
    ("北京市/海淀区", "北京市", "北京市", "海淀区", ""),
    ("北京市朝阳区朝阳区建国路", "北京市", "北京市", "朝阳区", "建国路"),
    ("北京市朝阳区朝阳路", "北京市", "北京市", "朝阳区", "朝阳路"),
    ("河北省石家庄市长安区", "河北省", "石家庄市", "长安区", ""),
    ("黑龙江哈尔滨南岗区", "黑龙江省", "哈尔滨市", "南岗区", ""),
    ("泉州晋江", "福建省", "泉州市", "晋江市", ""),
    ("上海市闵行区莘庄镇", "上海市", "上海市", "闵行区", "莘庄镇"),
    ("北京市朝阳区,建国路88号", "北京市", "北京市", "朝阳区", "建国路88号"),
    ("北京市朝阳区(建国门外)", "北京市", "北京市", "朝阳区", "（建国门外）"),
    ("asdfgh", "", "", "", "asdfgh"),
    ("不详", "", "", "", "不详"),
    ("未知地址", "", "", "", "未知地址"),
    ("京东大厦", "", "", "", "京东大厦"),
    ("中国人民银行", "", "", "", "中国人民银行"),
    ("Room 1203, Tower A", "", "", "", "Room 1203, Tower A"),
    ("中山大学附属医院", "", "", "", "中山大学附属医院"),
    ("北京东路100号", "", "", "", "北京东路100号"),
    ("香港九龙弥敦道", "香港特别行政区", "香港特别行政区", "", "九龙弥敦道"),
    ("澳门", "澳门特别行政区", "澳门特别行政区", "", ""),
    ("台湾省台北市", "台湾省", "", "", "台北市"),
    ("沪", "上海市", "上海市", "", ""),
    ("魔都", "上海市", "上海市", "", ""),
    ("北京", "北京市", "北京市", "", ""),
    ("深圳", "广东省", "深圳市", "", ""),
    ("Beijing", "北京市", "北京市", "", ""),
]


@pytest.mark.parametrize(("raw", "province", "city", "district", "detail"), CASES)
def test_parts(raw: str, province: str, city: str, district: str, detail: str) -> None:
    got = normalize_address(raw)
    assert (got.province, got.city, got.district, got.detail) == (province, city, district, detail)


@pytest.mark.parametrize(("raw", "province", "city", "district", "detail"), CASES)
def test_value_is_parts_joined_municipality_once(
    raw: str, province: str, city: str, district: str, detail: str
) -> None:
    got = normalize_address(raw)
    if not (province or city or district):
        assert got.value == raw.strip()
        return
    assert got.value == province + ("" if city == province else city) + district + detail


@pytest.mark.parametrize(("raw", "province", "city", "district", "detail"), CASES)
def test_idempotent_on_table(raw: str, province: str, city: str, district: str, detail: str) -> None:
    once = normalize_address(raw)
    twice = normalize_address(once.value)
    assert twice.value == once.value
    assert (twice.province, twice.city, twice.district, twice.detail) == (
        once.province,
        once.city,
        once.district,
        once.detail,
    )
    if once.ok:
        assert twice.changes == ()


@pytest.mark.parametrize(
    ("raw", "value", "adcode"),
    [
        ("北京市朝阳区建国路88号", "北京市朝阳区建国路88号", "110105"),
        ("北京", "北京市", "110000"),
        ("深圳南山区科技园", "广东省深圳市南山区科技园", "440305"),
        ("广东省东莞市长安镇", "广东省东莞市长安镇", "441900"),
        ("湖北省仙桃市", "湖北省仙桃市", "429004"),
        ("江苏昆山玉山镇", "江苏省苏州市昆山市玉山镇", "320583"),
        ("重庆市忠县忠州镇", "重庆市忠县忠州镇", "500233"),
        ("asdfgh", "asdfgh", ""),
    ],
)
def test_value_and_adcode(raw: str, value: str, adcode: str) -> None:
    got = normalize_address(raw)
    assert (got.value, got.adcode) == (value, adcode)


@pytest.mark.parametrize(
    ("raw", "changes"),
    [
        ("北京市朝阳区建国路88号", ()),
        ("北京朝阳区建国路88号", ("address.region_expanded",)),
        ("深圳南山区科技园", ("address.region_expanded", "address.region_completed")),
        ("海淀区中关村大街27号", ("address.region_completed",)),
        ("BJ朝阳区", ("address.alias_resolved",)),
        ("北京市北京市朝阳区", ("address.duplicate_removed",)),
        ("北京市市辖区朝阳区", ("address.duplicate_removed",)),
        ("北京市朝阳区朝阳区建国路", ("address.duplicate_removed",)),
        ("中国北京市朝阳区", ("address.country_removed",)),
        ("地址：北京市朝阳区", ("address.label_removed",)),
        ("北京市 朝阳区 建国路 88 号", ("address.whitespace",)),
        ("北京市朝阳区建国路８８号", ("address.halfwidth",)),
        ("100022 北京市朝阳区建国路88号", ("address.postcode_removed",)),
    ],
)
def test_changes(raw: str, changes: tuple[str, ...]) -> None:
    assert normalize_address(raw).changes == changes


@pytest.mark.parametrize(
    ("raw", "postcode", "value"),
    [
        ("100022 北京市朝阳区建国路88号", "100022", "北京市朝阳区建国路88号"),
        ("北京市朝阳区建国路88号 100022", "100022", "北京市朝阳区建国路88号"),
        ("北京市朝阳区建国路88号，邮编：100022", "100022", "北京市朝阳区建国路88号"),
        ("北京市朝阳区建国路88号(邮编100022)", "100022", "北京市朝阳区建国路88号"),
        ("北京市朝阳区建国路88号（100022）", "100022", "北京市朝阳区建国路88号"),
        ("518057,广东省深圳市南山区科技园", "518057", "广东省深圳市南山区科技园"),
        # digits glued to the street are a house number, not a postcode
        ("北京市朝阳区建国路100022号", "", "北京市朝阳区建国路100022号"),
        ("北京市朝阳区建国路88号1203室", "", "北京市朝阳区建国路88号1203室"),
        # a postcode at both ends, or two at the end: neither is taken, nothing is dropped
        ("100022 北京市朝阳区建国路88号 100022", "", "100022 北京市朝阳区建国路88号 100022"),
        ("北京市朝阳区建国路88号 100022 100023", "", "北京市朝阳区建国路88号100022 100023"),
    ],
)
def test_postcode_moves_to_its_own_field(raw: str, postcode: str, value: str) -> None:
    got = normalize_address(raw)
    assert (got.postcode, got.value) == (postcode, value)


@pytest.mark.parametrize(
    ("raw", "province", "city", "detail", "postcode"),
    [
        (
            "No. 88 Jianguo Road, Chaoyang District, Beijing",
            "北京市",
            "北京市",
            "No. 88 Jianguo Road, Chaoyang District",
            "",
        ),
        (
            "No. 88 Jianguo Road, Chaoyang District, Beijing 100022, China",
            "北京市",
            "北京市",
            "No. 88 Jianguo Road, Chaoyang District",
            "100022",
        ),
        (
            "Room 1203, Tower A, 1 Keyuan Rd, Nanshan District, Shenzhen, Guangdong, P.R. China",
            "广东省",
            "深圳市",
            "Room 1203, Tower A, 1 Keyuan Rd, Nanshan District",
            "",
        ),
        ("12 Nathan Road, Kowloon, Hong Kong", "香港特别行政区", "香港特别行政区", "12 Nathan Road, Kowloon", ""),
        ("Beijing, China", "北京市", "北京市", "", ""),
    ],
)
def test_english_order_puts_the_place_first(raw: str, province: str, city: str, detail: str, postcode: str) -> None:
    got = normalize_address(raw)
    assert (got.province, got.city, got.detail, got.postcode) == (province, city, detail, postcode)
    assert got.value == province + ("" if city == province else city) + detail
    assert normalize_address(got.value).value == got.value


@pytest.mark.parametrize("raw", ["1 Main St, Springfield", "Room 1203, Tower A", "Flat 2, 10 Downing Street, London"])
def test_english_address_elsewhere_is_unrecognised(raw: str) -> None:
    assert normalize_address(raw).problems[0].code == "address.unrecognised"


def test_ambiguous_district_without_city_is_left_blank() -> None:
    got = normalize_address("朝阳区建国路88号")
    assert (got.province, got.city, got.district) == ("", "", "")
    assert got.value == "朝阳区建国路88号"
    assert got.problems[0].code == "address.ambiguous_district"
    assert got.problems[0].value == "朝阳区"
    assert got.problems[0].hint == "北京市朝阳区、吉林省长春市朝阳区"


@pytest.mark.parametrize(
    ("raw", "city", "adcode"),
    [
        ("北京朝阳区建国路", "北京市", "110105"),
        ("长春朝阳区人民大街", "长春市", "220104"),
        ("吉林长春朝阳区", "长春市", "220104"),
    ],
)
def test_ambiguous_district_resolved_by_city_hint(raw: str, city: str, adcode: str) -> None:
    got = normalize_address(raw)
    assert (got.city, got.district, got.adcode, got.ok) == (city, "朝阳区", adcode, True)


@pytest.mark.parametrize(
    ("raw", "value", "dropped", "kept"),
    [
        ("广东省北京市朝阳区", "北京市朝阳区", "广东省", "北京市"),
        ("浙江省深圳市南山区", "广东省深圳市南山区", "浙江省", "深圳市"),
        ("广东省深圳市海淀区", "北京市海淀区", "广东省深圳市", "海淀区"),
        # a same-named district elsewhere: nothing to switch to, the text stays in the detail
        ("上海市朝阳区", "上海市朝阳区", "朝阳区", ""),
        ("北京市南山区", "北京市南山区", "南山区", ""),
    ],
)
def test_conflict_keeps_the_more_specific_part(raw: str, value: str, dropped: str, kept: str) -> None:
    got = normalize_address(raw)
    assert got.value == value
    assert [(p.code, p.value, p.hint) for p in got.problems] == [("address.conflict", dropped, kept)]


@pytest.mark.parametrize(
    "raw",
    [
        "asdfgh",
        "不详",
        "京东大厦",
        "中国人民银行",
        "Room 1203, Tower A",
        "  ???  ",
        "12345",
        "地址：",
        "100022",
        "中国",
    ],
)
def test_unrecognised_kept_verbatim(raw: str) -> None:
    got = normalize_address(raw)
    assert got.value == raw.strip()
    assert got.detail == raw.strip()
    assert (got.province, got.city, got.district, got.adcode) == ("", "", "", "")
    assert [p.code for p in got.problems] == ["address.unrecognised"]


@pytest.mark.parametrize("raw", ["", "   ", "\u3000"])
def test_empty(raw: str) -> None:
    assert normalize_address(raw) == Address(raw, "")


@pytest.mark.parametrize(
    ("alias", "province", "city"),
    [
        ("BJ", "北京市", "北京市"),
        ("bj", "北京市", "北京市"),
        ("Beijing", "北京市", "北京市"),
        ("BEIJING", "北京市", "北京市"),
        ("Peking", "北京市", "北京市"),
        ("京", "北京市", "北京市"),
        ("帝都", "北京市", "北京市"),
        ("SH", "上海市", "上海市"),
        ("Shanghai", "上海市", "上海市"),
        ("沪", "上海市", "上海市"),
        ("魔都", "上海市", "上海市"),
        ("GZ", "广东省", "广州市"),
        ("Guangzhou", "广东省", "广州市"),
        ("Shenzhen", "广东省", "深圳市"),
        ("Hangzhou", "浙江省", "杭州市"),
        ("Xi'an", "陕西省", "西安市"),
        ("Hong Kong", "香港特别行政区", "香港特别行政区"),
        ("鹏城", "广东省", "深圳市"),
        ("内蒙", "内蒙古自治区", ""),
        ("Beijing City", "北京市", "北京市"),
        ("Shenzhen Shi", "广东省", "深圳市"),
    ],
)
def test_default_aliases(alias: str, province: str, city: str) -> None:
    got = normalize_address(alias)
    assert (got.province, got.city, got.district, got.detail) == (province, city, "", "")
    assert "address.alias_resolved" in got.changes


def test_sz_is_ambiguous_and_not_a_default() -> None:
    assert "SZ" not in DEFAULT_CITY_ALIASES
    assert normalize_address("SZ南山区").problems[0].code in ("address.unrecognised", "address.ambiguous_district")


def test_every_default_alias_points_at_a_region() -> None:
    for alias, target in DEFAULT_CITY_ALIASES.items():
        assert resolve_name(target) is not None, alias


def test_admin_aliases_extend_and_override_defaults() -> None:
    aliases = {"SZ": "深圳市", "鹏城": "", "gz": "贵州省", "狮城": "不存在市"}
    got = normalize_address("SZ南山区科技园", aliases=aliases)
    assert (got.province, got.city, got.district, got.detail) == ("广东省", "深圳市", "南山区", "科技园")
    # mapped to "" switches a default off; a target that is no region is ignored
    assert normalize_address("鹏城南山区", aliases=aliases).problems[0].code == "address.unrecognised"
    assert normalize_address("鹏城南山区").district == "南山区"
    assert normalize_address("狮城", aliases=aliases).problems[0].code == "address.unrecognised"
    # case-insensitive keys: admin "gz" replaces the default "GZ"
    assert normalize_address("GZ", aliases=aliases).province == "贵州省"
    # defaults still apply alongside
    assert normalize_address("BJ朝阳区", aliases=aliases).district == "朝阳区"
    # the same mapping object edited in place is picked up
    aliases["SZ"] = "苏州市"
    assert normalize_address("SZ", aliases=aliases).city == "苏州市"


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        ("京东大厦", None),  # 京 alone only when a district follows
        ("京朝阳区三里屯", "三里屯"),
        ("沪A12345", None),
        ("北京东路100号", None),  # a street named after a city
        ("上海南京东路1号", "南京东路1号"),
        ("中山路88号", None),
        ("南京大学", None),
    ],
)
def test_street_and_word_lookalikes(raw: str, detail: str | None) -> None:
    got = normalize_address(raw)
    if detail is None:
        assert [p.code for p in got.problems] == ["address.unrecognised"]
    else:
        assert got.detail == detail


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        (
            {"province": "北京", "city": "北京", "district": "朝阳", "detail": "建国路88号"},
            ("北京市", "北京市", "朝阳区", "建国路88号", "北京市朝阳区建国路88号"),
        ),
        ({"city": "北京", "district": "朝阳"}, ("北京市", "北京市", "朝阳区", "", "北京市朝阳区")),
        (
            {"city": "深圳", "district": "南山", "detail": " 科技园 "},
            ("广东省", "深圳市", "南山区", "科技园", "广东省深圳市南山区科技园"),
        ),
        ({"city": "长春", "district": "朝阳区"}, ("吉林省", "长春市", "朝阳区", "", "吉林省长春市朝阳区")),
        ({"province": "江苏", "district": "昆山市"}, ("江苏省", "苏州市", "昆山市", "", "江苏省苏州市昆山市")),
        (
            {"city": "苏州", "detail": "昆山市玉山镇"},
            ("江苏省", "苏州市", "昆山市", "玉山镇", "江苏省苏州市昆山市玉山镇"),
        ),
        ({"city": "BJ"}, ("北京市", "北京市", "", "", "北京市")),
        ({"city": "昆山", "detail": "玉山镇"}, ("江苏省", "苏州市", "昆山市", "玉山镇", "江苏省苏州市昆山市玉山镇")),
        ({"city": "北京市", "district": "北京市朝阳区"}, ("北京市", "北京市", "朝阳区", "", "北京市朝阳区")),
        ({"city": "Shenzhen"}, ("广东省", "深圳市", "", "", "广东省深圳市")),
        ({"detail": "北京市朝阳区建国路88号"}, ("北京市", "北京市", "朝阳区", "建国路88号", "北京市朝阳区建国路88号")),
        (
            {"province": "浙江", "city": "杭州", "district": "西湖区", "detail": "浙江省杭州市西湖区文三路"},
            ("浙江省", "杭州市", "西湖区", "文三路", "浙江省杭州市西湖区文三路"),
        ),
        (
            {"province": "上海市", "city": "上海市", "district": "浦东新区"},
            ("上海市", "上海市", "浦东新区", "", "上海市浦东新区"),
        ),
    ],
)
def test_address_parts(kwargs: dict[str, str], expected: tuple[str, str, str, str, str]) -> None:
    got = normalize_address_parts(**kwargs)
    assert (got.province, got.city, got.district, got.detail, got.value) == expected
    assert got.ok


@pytest.mark.parametrize(
    ("kwargs", "parts", "problems"),
    [
        ({"province": "广东", "city": "北京"}, ("北京市", "北京市", ""), [("address.conflict", "广东省", "北京市")]),
        (
            {"province": "北京", "city": "深圳", "district": "南山区"},
            ("广东省", "深圳市", "南山区"),
            [("address.conflict", "北京市", "深圳市")],
        ),
        (
            {"province": "广东省", "city": "Gotham", "detail": "1号"},
            ("广东省", "Gotham", ""),
            [("address.city_unrecognised", "Gotham", "")],
        ),
        ({"province": "火星"}, ("火星", "", ""), [("address.province_unrecognised", "火星", "")]),
        (
            {"city": "上海", "district": "朝阳区"},
            ("上海市", "上海市", "朝阳区"),
            [("address.district_unrecognised", "朝阳区", "")],
        ),
        (
            {"district": "朝阳区"},
            ("", "", "朝阳区"),
            [("address.ambiguous_district", "朝阳区", "北京市朝阳区、吉林省长春市朝阳区")],
        ),
    ],
)
def test_address_parts_problems(
    kwargs: dict[str, str], parts: tuple[str, str, str], problems: list[tuple[str, str, str]]
) -> None:
    got = normalize_address_parts(**kwargs)
    assert (got.province, got.city, got.district) == parts
    assert [(p.code, p.value, p.hint) for p in got.problems] == problems


def test_every_emitted_code_has_a_message() -> None:
    codes: set[str] = set()
    for raw, *_ in CASES:
        got = normalize_address(raw)
        codes.update(got.changes)
        codes.update(p.code for p in got.problems)
    assert codes <= set(MESSAGES)
    assert all(MESSAGES.values())


def test_region_table_has_no_placeholder_cities() -> None:
    names = {r.name for r in BY_ADCODE.values()}
    assert "市辖区" not in names and "县" not in names
    assert len([r for r in BY_ADCODE.values() if r.level == 0]) == 34


# -- properties --------------------------------------------------------------------------------

_PREFIXES = [
    "北京市朝阳区",
    "北京海淀",
    "上海浦东新区",
    "天津市和平区",
    "重庆渝中区",
    "广东省深圳市南山区",
    "深圳南山区",
    "广州天河区",
    "江苏昆山",
    "杭州西湖区",
    "内蒙古呼和浩特新城区",
    "新疆乌鲁木齐天山区",
    "延边州延吉市",
    "湖北仙桃市",
    "东莞市",
    "BJ朝阳区",
    "魔都静安区",
    "中国北京市东城区",
]
# detail text that cannot itself read as a place name
_DETAIL = st.text(alphabet=string.digits + string.ascii_letters + "号楼室栋层座单元#-", min_size=1, max_size=20).filter(
    lambda s: not s[0].isalpha() or s[:2].lower() not in {"bj", "sh", "gz", "tj", "cq", "cd", "nj", "hk"}
)


@given(st.sampled_from(_PREFIXES), _DETAIL)
@settings(max_examples=300)
def test_detail_survives(prefix: str, detail: str) -> None:
    got = normalize_address(prefix + "甲" + detail)
    assert got.detail == ("甲" + detail).strip()
    assert got.value.endswith(got.detail)
    assert got.district or got.city


_PIECES = ["地址：", "邮编", "100022", " ", "北京", "中国", "(", "）", ",", "朝阳区", "8号", "China", "Beijing"]


@given(st.one_of(st.text(max_size=40), st.lists(st.sampled_from(_PIECES), max_size=8).map("".join)))
@settings(max_examples=1000)
def test_idempotent_and_never_loses_input(raw: str) -> None:
    once = normalize_address(raw)
    assert normalize_address(once.value).value == once.value
    if not (once.province or once.city or once.district):
        assert once.value == raw.strip()
    else:
        assert once.value.endswith(once.detail)


_CJK_REGIONISH = st.text(alphabet="北京上海广东深圳南山朝阳区市省县中国路号88 ０１BJ沪京", max_size=16)


@given(_CJK_REGIONISH)
@settings(max_examples=500)
def test_idempotent_on_region_like_text(raw: str) -> None:
    once = normalize_address(raw)
    twice = normalize_address(once.value)
    assert twice.value == once.value
    assert (twice.province, twice.city, twice.district) == (once.province, once.city, once.district)


_WORDS = st.sampled_from(
    [
        "Beijing",
        "Shenzhen",
        "Guangdong",
        "China",
        "100022",
        "No. 1 Road",
        "Nanshan District",
        "BJ",
        "Hong Kong",
        " ",
        ",",
        ", ",
        "北京",
        "朝阳区",
        "1",
        "Room 2",
        "、",
        "-",
    ]
)


@given(st.lists(_WORDS, max_size=8).map("".join))
@settings(max_examples=500)
def test_idempotent_on_mixed_english_text(raw: str) -> None:
    once = normalize_address(raw)
    twice = normalize_address(once.value)
    assert twice.value == once.value
    assert (twice.province, twice.city, twice.district) == (once.province, once.city, once.district)


_PART = st.lists(
    st.sampled_from(
        ["北京", "朝阳区", "广东省", "深圳", "南山", "昆山", "市辖区", "长春", "BJ", " ", ",", "建国路8号", "火星"]
    ),
    max_size=4,
).map("".join)


@given(_PART, _PART, _PART, _PART)
@settings(max_examples=500)
def test_parts_idempotent(province: str, city: str, district: str, detail: str) -> None:
    once = normalize_address_parts(province=province, city=city, district=district, detail=detail)
    twice = normalize_address_parts(province=once.province, city=once.city, district=once.district, detail=once.detail)
    assert twice.value == once.value
    assert (twice.province, twice.city, twice.district, twice.detail) == (
        once.province,
        once.city,
        once.district,
        once.detail,
    )


@pytest.mark.parametrize(
    ("kwargs", "changes"),
    [
        ({"province": "北京市", "city": "北京市", "district": "朝阳区", "detail": "建国路88号"}, ()),
        (
            {"province": "北京", "city": "北京", "district": "朝阳", "detail": "建国路88号"},
            ("address.region_expanded",),
        ),
        ({"city": "BJ", "district": "朝阳"}, ("address.alias_resolved", "address.region_expanded")),
        ({"city": "深圳市", "district": "南山区"}, ("address.region_completed",)),
        ({"province": "北京市", "district": "朝阳区", "detail": "北京市朝阳区建国路"}, ("address.duplicate_removed",)),
    ],
)
def test_address_parts_changes(kwargs: dict[str, str], changes: tuple[str, ...]) -> None:
    assert normalize_address_parts(**kwargs).changes == changes


# Region starts are remembered per alias table (the street after them rarely repeats, the start does):
# a text whose start was seen must give exactly what a fresh parse gives.
_STARTS = [
    "北京", "北京市", "市", "朝阳", "区", "朝阳区", "市辖区", "京", "沪", "上海", "浦东新区", "广东", "省",
    "深圳", "南山区", "吉林", "长春", "路", "大街", "东", "大", "学", "场", "民", "中山", "市场", "、",
    "88号", "A座", "BJ", "Beijing", "海淀", "昆山", "建国", "公园", "胡同", "南京", "南京市", "长安",
    "鼓楼区", "苏州", "中国", "吴江区", " ", ",",
]


def _forget() -> None:
    from kehu.dataquality.normalize.regions import DEFAULT_ALIASES

    DEFAULT_ALIASES.memo.clear()
    DEFAULT_ALIASES.memo_sizes.clear()


@given(st.lists(st.lists(st.sampled_from(_STARTS), min_size=1, max_size=7).map("".join), min_size=1, max_size=12))
@settings(max_examples=800)
def test_a_remembered_region_start_gives_what_a_fresh_parse_gives(texts: list[str]) -> None:
    fresh = []
    for text in texts:
        _forget()
        fresh.append(normalize_address(text))
    _forget()
    assert [normalize_address(text) for text in texts] == fresh
    assert [normalize_address(text) for text in reversed(texts)] == fresh[::-1]


@pytest.mark.parametrize(
    ("first", "second", "district", "detail"),
    [
        ("北京市朝阳区建国路88号", "北京市朝阳区朝阳区建国路1号", "朝阳区", "建国路1号"),
        ("南京市鼓楼区中山路1号", "南京市鼓楼区中山北路2号", "鼓楼区", "中山北路2号"),
        ("北京市朝阳区建国路88号", "北京市朝阳", "朝阳区", ""),
        ("深圳南山区科技园", "深圳南山科技园", "南山区", "科技园"),
        ("上海浦东新区世纪大道1号", "上海市场路5号", "", "市场路5号"),
    ],
)
def test_texts_sharing_a_start_each_read_their_own_region(first: str, second: str, district: str, detail: str) -> None:
    _forget()
    normalize_address(first)
    got = normalize_address(second)
    _forget()
    assert got == normalize_address(second)
    assert (got.district, got.detail) == (district, detail)


@given(st.one_of(st.lists(st.sampled_from(_STARTS), min_size=1, max_size=7).map("".join), st.text(max_size=20)))
@settings(max_examples=800)
def test_the_quick_path_gives_what_normalize_address_gives(cell: str) -> None:
    quick = quick_address(cell)
    if quick is not None:
        full = normalize_address(cell)
        assert (full.province, full.city, full.district, full.detail, full.value, full.problems) == (*quick, ())


@pytest.mark.parametrize(
    ("cell", "quick"),
    [
        ("北京市朝阳区建国路88号", ("北京市", "北京市", "朝阳区", "建国路88号", "北京市朝阳区建国路88号")),
        ("深圳南山区科技园", ("广东省", "深圳市", "南山区", "科技园", "广东省深圳市南山区科技园")),
        ("北京市 朝阳区", None),  # a space: the full path
        ("科技园1号", None),  # no region: flagged by the full path
        ("朝阳区建国路1号", None),  # ambiguous district
        ("", None),
    ],
)
def test_quick_address(cell: str, quick: tuple[str, ...] | None) -> None:
    assert quick_address(cell) == quick


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("北京市朝阳门外大街1号", ("北京市", "北京市", "", "朝阳门外大街1号")),
        ("北京朝阳区朝阳门北大街8号", ("北京市", "北京市", "朝阳区", "朝阳门北大街8号")),
        ("北京市东直门南大街5号", ("北京市", "北京市", "", "东直门南大街5号")),
    ],
)
def test_a_city_gate_named_like_a_district_is_street_text(raw, expected):
    result = normalize_address(raw)
    assert (result.province, result.city, result.district, result.detail) == expected
