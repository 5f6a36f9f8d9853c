"""Chinese street addresses reduced to one spelling, so the same place written five ways groups as one.

Used to find recurring places (重复诉件热点). The rules are about how 12345 call-takers write a
Shanghai address: a city and district prefix or not, full-width digits, spaces, 号/弄/支弄/室 written
out or dropped (``3-401`` for ``3号401室``), and a vague tail (门口, 附近, 对面, 旁) that names the
same place. Standard library only.
"""

from __future__ import annotations

import re
import unicodedata

# city, district and street-office prefixes say nothing the road name does not
_CITY = re.compile(r"^(?:中国)?(?:上海市|上海)")
_DISTRICT = re.compile(r"^[\u4e00-\u9fff]{2,3}(?:新区|区)(?=[\u4e00-\u9fff\d])")
_STREET_OFFICE = re.compile(r"^[\u4e00-\u9fff]{2,5}(?:街道|镇)(?=[\u4e00-\u9fff]{2,}(?:路|街|道|巷|弄|坊|村|苑))")
# a vague tail: the place is the same whether the caller stood at its door or across the road
_TAIL = re.compile(
    r"(?:门口|门前|大门口|大门|附近|对面|对过|旁边|旁|边上|周边|周围|一带|沿街|路口|处|东侧|西侧|南侧|北侧)$"
)
_SPACE_PUNCT = re.compile(r"[\s\W_]+")
_DASH_ROOM = re.compile(r"(\d+)[-－—–~～](\d+)(?!\d)")
_BRANCH = re.compile(r"(\d+)支(?!弄)")
_ROOM = re.compile(r"(\d+)室")
_FLOOR_ROOM = re.compile(r"号(\d+)(?:号|楼)?$")
_BARE_NUMBER = re.compile(r"(路|街|巷|道|坊)(\d+)$")
_DIGIT_ZERO = re.compile(r"(?<!\d)0+(\d)")


def normalise_address(address: str | None) -> str | None:
    """The address reduced for grouping: no prefix, ASCII digits, canonical 号/弄/支弄, no room word or vague tail.

    ``None`` when nothing that names a place is left.
    """
    if not address:
        return None
    text = unicodedata.normalize("NFKC", address).upper()
    text = _DASH_ROOM.sub(r"\1号\2", text)  # 3-401 → 3号401 (before punctuation goes)
    text = _SPACE_PUNCT.sub("", text)
    text = _CITY.sub("", text)
    text = _DISTRICT.sub("", text)
    text = _STREET_OFFICE.sub("", text)
    previous = None
    while previous != text:  # 门口附近 → both go
        previous = text
        text = _TAIL.sub("", text)
    text = _BRANCH.sub(r"\1支弄", text)
    text = _ROOM.sub(r"\1", text)
    text = _FLOOR_ROOM.sub(r"号\1", text)
    text = _BARE_NUMBER.sub(r"\1\2号", text)
    text = text.replace("号号", "号")
    text = _DIGIT_ZERO.sub(r"\1", text)
    return text or None


_FLAT = re.compile(r"^(.+?号)\d+$")


def building_of(address: str | None) -> str | None:
    """The normalised address at building level (``…3号401`` → ``…3号``): the flat number is personal data.

    Hotspots are grouped and shown at this level, so a list, chart or export never names a flat.
    """
    key = normalise_address(address)
    if key is None:
        return None
    match = _FLAT.match(key)
    return match.group(1) if match else key


# the first house or building number ends the public part: 1266号, 500弄3号, 5栋, 2座
_HOUSE_NUMBER = re.compile(r"^(.*?\d+(?:号|栋|幢|座))")
# without a house number, a room, floor, unit or household marks where the private part starts
_PRIVATE_PART = re.compile(r"\d+(?:室|层|楼|单元|户|F)")
_SPACE_PUNCT_KEEP = re.compile(r"\s+")


def street_number_address(address: str | None) -> str | None:
    """The address as far as the house number (``上海市静安区常德路500弄3号401室`` → ``…500弄3号``).

    What a public feed may show (Open311): the building, never the flat, floor or unit behind it, which
    would point at the complainant's own door. Unlike :func:`normalise_address` the text stays as written
    (city and district kept) except for width and spaces. ``None`` when nothing is left.
    """
    if not address:
        return None
    text = _SPACE_PUNCT_KEEP.sub("", unicodedata.normalize("NFKC", address))
    text = _DASH_ROOM.sub(r"\1号\2", text)  # 3-401 → 3号401, then cut after 3号
    match = _HOUSE_NUMBER.match(text)
    if match:
        return match.group(1)
    private = _PRIVATE_PART.search(text)
    if private:
        text = text[: private.start()]
    return text.rstrip("-—,，、.。 ") or None
