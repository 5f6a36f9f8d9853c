"""Address normalising: real-looking spellings of one place meet; neighbouring places stay apart."""

from __future__ import annotations

import pytest

from tracker.domain.addresses import normalise_address

SAME_PLACE = [
    "上海市静安区南京西路1000弄2支弄3号401室",
    "静安区 南京西路１０００弄２支３号４０１室 门口",
    "南京西路1000弄2支弄3号401室附近",
    "上海南京西路1000弄2支弄3-401对面",
    "南京西路1000弄，2支弄3号401。旁",
    "静安寺街道南京西路1000弄2支弄3号401室门口附近",
]


def test_one_place_written_six_ways_is_one_key() -> None:
    keys = {normalise_address(a) for a in SAME_PLACE}
    assert keys == {"南京西路1000弄2支弄3号401"}


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("南京西路100号", "南京西路 100"),
        ("上海市静安区共和新路３２０号", "共和新路320号门前"),
        ("ＡＢＣ广场 东侧", "abc广场"),
        ("大宁路街道共和新路1弄", "共和新路1弄"),
    ],
)
def test_variants_meet(left: str, right: str) -> None:
    assert normalise_address(left) == normalise_address(right)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("南京西路1000弄", "南京西路100弄"),
        ("南京西路1000弄2支弄3号", "南京西路1000弄3支弄3号"),
        ("南京西路1号", "北京西路1号"),
        ("共和新路320号401室", "共和新路320号402室"),
    ],
)
def test_neighbours_stay_apart(left: str, right: str) -> None:
    assert normalise_address(left) != normalise_address(right)


@pytest.mark.parametrize("empty", [None, "", "   ", "，。", "门口"])
def test_nothing_left_is_none(empty: str | None) -> None:
    assert normalise_address(empty) is None


def test_a_name_that_starts_like_a_district_is_kept() -> None:
    # 小区 at the start is not a district prefix of two or three characters followed by a road
    assert normalise_address("静安区彭浦新村小区3号") == "彭浦新村小区3号"


def test_building_level_drops_the_flat() -> None:
    from tracker.domain.addresses import building_of

    assert {building_of(a) for a in SAME_PLACE} == {"南京西路1000弄2支弄3号"}
    assert building_of("共和新路320号402室") == building_of("共和新路320号") == "共和新路320号"
    assert building_of("彭浦新村") == "彭浦新村"
    assert building_of(None) is None
