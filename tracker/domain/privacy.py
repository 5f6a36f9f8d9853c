"""Masking of personal data (PIPL): phone numbers and names shown only as far as a role needs."""

from __future__ import annotations

import re


def mask_phone(phone: str | None) -> str:
    """138****5678 for a mobile number; keep only the last 4 digits of anything else."""
    if not phone:
        return ""
    digits = phone.strip()
    if len(digits) == 11 and digits.isdigit():
        return f"{digits[:3]}****{digits[-4:]}"
    if len(digits) <= 4:
        return "*" * len(digits)
    return "*" * (len(digits) - 4) + digits[-4:]


def mask_name(name: str | None) -> str:
    """王先生 → 王**; keeps the surname only."""
    if not name:
        return ""
    return name[0] + "*" * (len(name) - 1)


MOBILE_IN_TEXT = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def mask_phones_in_text(text: str | None) -> str:
    """Free text (complaint content, replies, notes) with every mobile number in it masked."""
    if not text:
        return ""
    return MOBILE_IN_TEXT.sub(lambda m: mask_phone(m.group(0)), text)
