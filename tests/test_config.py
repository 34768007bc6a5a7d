"""Settings come from the environment in one place, each with a default."""

from __future__ import annotations

import pytest

from dashboard.config import Settings, load_settings, settings_table


def test_defaults_need_no_environment():
    s = load_settings({})
    assert s.port == 8050 and s.redis_url == "" and s.lang == "zh"


def test_environment_names_are_field_names_upper_cased_and_typed():
    s = load_settings({"PORT": "9000", "GPS_MAX_SPEED_MPS": "30.5", "SIMULATE": "false"})
    assert s.port == 9000 and s.gps_max_speed_mps == 30.5 and s.simulate is False


def test_a_bad_value_names_the_variable():
    with pytest.raises(ValueError, match="PORT"):
        load_settings({"PORT": "eighty"})


def test_every_setting_is_documented_with_a_comment():
    rows = settings_table()
    assert len(rows) == len(Settings.__dataclass_fields__) - 1
    assert all(desc for _name, _default, desc in rows), [r for r in rows if not r[2]]


def test_overrides_win_over_the_environment():
    assert load_settings({"PORT": "9000"}, port=9100).port == 9100


def test_the_ui_language_is_ui_lang_not_the_locales_lang():
    assert load_settings({"LANG": "en_US.UTF-8"}).lang == "zh"
    assert load_settings({"UI_LANG": "en"}).lang == "en"


def test_the_readme_lists_every_setting():
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    missing = [name for name, _d, _h in settings_table() if f"`{name}`" not in readme]
    assert missing == [], f"add to README (python scripts/settings_table.py): {missing}"
