"""Masking of personal data (PIPL): phone numbers and names shown only as far as a role needs."""

from __future__ import annotations

import re


def mask_phone(phone: str | None) -> str:
    """138****5678 for a mobile number; keep only the last 4 digits of anything else."""
    if not phone:
        return ""
    digits = phone.strip()
    if "*" in digits:  # already masked (the audit trail stores it so)
        return digits
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


ADDRESS_KEPT = 6  # characters of an address an audit record keeps: district and road, not the house


def mask_address(address: str | None) -> str:
    """上海市静安区南京西路1266号 → 上海市静安区****: the place at road level, never the door."""
    if not address:
        return ""
    return address[:ADDRESS_KEPT] + "*" * min(max(len(address) - ADDRESS_KEPT, 1), 6)


NAME_FIELDS = frozenset({"complainant", "contact_person"})
TEXT_FIELDS = frozenset({"content", "reply", "contact_reason", "extension_reason", "return_basis"})


def audit_value(field: str, value: object) -> object:
    """A value as the audit trail may keep it: names, phones and addresses masked, phones in texts masked.

    The trail records that a personal field changed, never its value in plain text (domain.md §7), so
    the personal data can later be removed from the order without touching the append-only trail.
    """
    if value is None or value == "":
        return value
    if isinstance(value, dict):  # the export's extra columns: each by its own name
        return {k: audit_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list):  # a change's [before, after]
        return [audit_value(field, v) for v in value]
    if field in NAME_FIELDS:
        return mask_name(str(value))
    if field == "phone":
        return mask_phone(str(value))
    if field in ("address", "address_key"):
        return mask_address(str(value))
    if isinstance(value, str):
        return mask_phones_in_text(value)
    return value


def audit_changes(changes: dict[str, object]) -> dict[str, object]:
    """An event's ``{field: [before, after]}`` with every value as :func:`audit_value` keeps it."""
    return {name: audit_value(name, pair) for name, pair in changes.items()}


def mask_names_in_text(text: str | None, names: list[str | None]) -> str:
    """Free text with each of ``names`` (the complainant, the contact person) masked wherever it is written.

    A caller often writes their own name into the complaint ("我姓王，王建国"); a text shown outside the
    bureau keeps the surname only, as :func:`mask_name` does. Names of one character are left alone
    (masking every 王 would garble the text and protect nothing).
    """
    if not text:
        return ""
    for name in sorted({n.strip() for n in names if n and len(n.strip()) > 1}, key=len, reverse=True):
        text = text.replace(name, mask_name(name))
    return text


LANDLINE_IN_TEXT = re.compile(r"(?<!\d)0\d{2,3}[- ]\d{7,8}(?!\d)")
LONG_NUMBER_IN_TEXT = re.compile(r"(?<![\d*])\d{7,}(?![\d*])")


def mask_numbers_in_text(text: str | None) -> str:
    """Free text for the public (Open311): mobiles as 138****5678, and also landlines (021-62781234) and any run of
    7 or more digits (+8613812345678, a number written without its area code) down to their last 4 digits.

    Stricter than :func:`mask_phones_in_text`, which staff texts use: outside the bureau a date written 20261120
    masked by mistake costs less than a phone number let through.
    """
    text = mask_phones_in_text(text)
    text = LANDLINE_IN_TEXT.sub(lambda m: mask_phone(m.group(0)), text)
    return LONG_NUMBER_IN_TEXT.sub(lambda m: mask_phone(m.group(0)), text)
