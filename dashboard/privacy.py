"""Masking of residents' personal data (names, ID numbers, phones); pure, used everywhere.

The wall and every API show masked values; only an authorised drill-down page may pass
``reveal=True`` to the people queries (none does until login lands).
"""

from __future__ import annotations

MASK = "*"


def mask_name(name: str | None) -> str:
    """Return a name with all but its first and last characters hidden: 张*辉, 张*, 欧**娜."""
    if not name:
        return ""
    name = str(name).strip()
    if len(name) <= 1:
        return MASK
    if len(name) == 2:
        return name[0] + MASK
    return name[0] + MASK * (len(name) - 2) + name[-1]


def mask_id(number: str | None) -> str:
    """Return an ID number with the area code and last four kept: 120110********1234."""
    if not number:
        return ""
    s = str(number).strip()
    if len(s) >= 15:
        return s[:6] + MASK * (len(s) - 10) + s[-4:]
    if len(s) > 4:
        return MASK * (len(s) - 4) + s[-4:]
    return MASK * len(s)


def mask_phone(phone: str | None) -> str:
    """Return a phone number with its middle hidden: 138****5678."""
    if not phone:
        return ""
    s = str(phone).strip()
    if len(s) >= 11:
        return s[:3] + MASK * (len(s) - 7) + s[-4:]
    if len(s) > 4:
        return MASK * (len(s) - 4) + s[-4:]
    return MASK * len(s)


def resident_view(row: dict, reveal: bool = False) -> dict:
    """Return a resident record with name, ID number and phone masked unless reveal."""
    out = dict(row)
    if not reveal:
        out["name"] = mask_name(out.get("name"))
        out["id_no"] = mask_id(out.get("id_no"))
        out["phone"] = mask_phone(out.get("phone"))
    return out
