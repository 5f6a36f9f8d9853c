"""Masking of personal data (PIPL): phone numbers and names shown only as far as a role needs."""

from __future__ import annotations


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
