"""Masking of residents' personal data: the wall never shows a full name, ID number or phone."""

from __future__ import annotations

from dashboard.privacy import mask_id, mask_name, mask_phone, resident_view


def test_a_three_character_name_keeps_first_and_last():
    assert mask_name("张泽辉") == "张*辉"


def test_a_two_character_name_keeps_the_surname_only():
    assert mask_name("陈堃") == "陈*"


def test_a_four_character_name_hides_the_middle_two():
    assert mask_name("欧阳娜娜") == "欧**娜"


def test_a_one_character_or_empty_name_reveals_nothing():
    assert mask_name("王") == "*"
    assert mask_name("") == ""
    assert mask_name(None) == ""


def test_an_id_number_keeps_the_area_code_and_the_last_four():
    assert mask_id("120110199001011234") == "120110********1234"
    assert mask_id("12011019900101123X") == "120110********123X"


def test_a_short_id_keeps_at_most_the_last_four():
    assert mask_id("12345678") == "****5678"
    assert mask_id("123") == "***"


def test_a_mobile_number_hides_the_middle_four():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("") == ""


def test_a_resident_view_is_masked_unless_revealed():
    row = {"name": "张泽辉", "id_no": "120110199001011234", "phone": "13812345678",
           "address": "铁城公寓3号楼2门501"}
    masked = resident_view(row)
    assert (masked["name"], masked["id_no"], masked["phone"]) == (
        "张*辉", "120110********1234", "138****5678")
    assert masked["address"] == row["address"]
    assert resident_view(row, reveal=True) == row
