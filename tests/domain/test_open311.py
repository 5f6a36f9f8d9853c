"""Open311 rules without a server: the public address, names masked in text, the filters and their bounds, the
XML shape, the per-address limiter and the small cache."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tracker.domain.addresses import street_number_address
from tracker.domain.open311 import (
    Bounds,
    Open311Error,
    RequestQuery,
    category_service,
    error_body,
    parse_request_query,
    status_of,
    to_xml,
    w3c,
)
from tracker.domain.privacy import mask_names_in_text, mask_numbers_in_text
from tracker.domain.ratelimit import ExpiringCache, RateLimiter

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("上海市静安区常德路500弄3号401室", "上海市静安区常德路500弄3号"),
        ("南京西路1266号恒隆广场2座15楼", "南京西路1266号"),
        ("江宁路195号2单元301室", "江宁路195号"),
        ("武定路889弄12号3楼", "武定路889弄12号"),
        ("彭浦新村5栋301", "彭浦新村5栋"),
        ("共和新路 3-401", "共和新路3号"),
        ("上海市静安区延长路１２３号 门口", "上海市静安区延长路123号"),
        ("南京西路与陕西北路路口", "南京西路与陕西北路路口"),  # no number: nothing finer to drop
        ("某小区3楼", "某小区"),  # a floor without a house number still goes
    ],
)
def test_an_address_is_kept_to_the_house_number(address: str, public: str) -> None:
    assert street_number_address(address) == public


@pytest.mark.parametrize("address", [None, "", "   ", "301室"])
def test_an_address_with_nothing_public_left_is_none(address: str | None) -> None:
    assert street_number_address(address) is None


def test_names_are_masked_inside_a_text_but_one_character_is_left_alone() -> None:
    text = "我是王建国，王建国的邻居李四也反映过。"
    assert mask_names_in_text(text, ["王建国", "李四", "王", None]) == "我是王**，王**的邻居李*也反映过。"
    assert mask_names_in_text(None, ["王建国"]) == ""


def test_every_phone_like_number_is_masked_for_the_public_but_short_numbers_stay() -> None:
    text = "手机13912345678，座机021-62781234，或+8613700001111，或62781234；常德路500弄3号，2026-11-20晚"
    assert mask_numbers_in_text(text) == (
        "手机139****5678，座机********1234，或+*********1111，或****1234；常德路500弄3号，2026-11-20晚"
    )
    assert mask_numbers_in_text(None) == ""


def test_statuses_and_times_as_the_public_reads_them() -> None:
    assert [status_of(s) for s in ("dispatched", "handling", "return_requested", "returned", "closed")] == [
        "open",
        "open",
        "open",
        "closed",
        "closed",
    ]
    assert w3c(NOW) == "2026-11-26T10:00:00+08:00" and w3c(None) is None
    assert category_service("噪声扰民")["group"] == "环境扰民"
    assert category_service("本区自定类 / 其它")["group"] == "其他"
    assert category_service("本区自定类 / 其它")["keywords"] == "本区自定类,其它"


def test_the_query_defaults_to_the_last_90_days_and_a_full_page() -> None:
    query = parse_request_query({}, now=NOW, bounds=Bounds(max_page_size=1000, default_page_size=1000))
    assert query == RequestQuery(start=NOW - timedelta(days=90), end=NOW, page=1, page_size=1000)
    dated = parse_request_query({"start_date": "2026-11-01", "status": "open"}, now=NOW, bounds=Bounds())
    assert dated.start == datetime(2026, 10, 31, 16, 0, tzinfo=UTC)  # a bare date is the Beijing day's start
    assert dated.end == dated.start + timedelta(days=90) and dated.statuses == {"open"}
    ids = parse_request_query({"service_request_id": "3, 1,3", "status": "nonsense"}, now=NOW, bounds=Bounds())
    assert ids == RequestQuery(ids=(3, 1))  # ids override every other filter, as the specification says
    utc = parse_request_query({"end_date": "2026-11-20T00:00:00Z"}, now=NOW, bounds=Bounds())
    assert utc.end == datetime(2026, 11, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ({"start_date": "2026-11-01T25:00"}, "start_date 的值「2026-11-01T25:00」不是有效时间"),
        ({"start_date": "2026-01-01", "end_date": "2026-04-02"}, "超过上限 90 天"),
        ({"status": "open,done"}, "status 的值「done」无效"),
        ({"page": "-1"}, "page 的值「-1」超出范围"),
        ({"service_code": ",".join(str(i) for i in range(101))}, "一次最多 100 个"),
        ({"service_request_id": "0"}, "「0」不是服务请求编号"),
    ],
)
def test_a_bad_query_names_the_parameter_and_the_value(args: dict[str, str], words: str) -> None:
    with pytest.raises(Open311Error) as refused:
        parse_request_query(args, now=NOW, bounds=Bounds())
    assert refused.value.status == 400 and words in refused.value.message


def test_xml_is_the_specifications_shape() -> None:
    xml = to_xml("services", [{"service_code": "渣土", "metadata": False, "group": None}]).decode()
    assert xml.endswith(
        "<services><service><service_code>渣土</service_code><metadata>false</metadata><group /></service></services>"
    )
    assert (
        error_body("xml", 429, "请求过于频繁")
        .decode()
        .endswith("<errors><error><code>429</code><description>请求过于频繁</description></error></errors>")
    )
    assert error_body("json", 400, "参数有误") == '[{"code":400,"description":"参数有误"}]'.encode()


def test_the_limiter_counts_per_key_in_a_sliding_window() -> None:
    limiter = RateLimiter(limit=2, window=60, max_keys=2)
    assert [limiter.retry_after("a", now=t) for t in (0, 10)] == [0, 0]
    assert limiter.retry_after("a", now=20) == 40  # until the first of the two leaves the window
    assert limiter.retry_after("a", now=30) == 30  # a refused request is not counted
    assert limiter.retry_after("b", now=30) == 0
    assert limiter.retry_after("a", now=60) == 0
    limiter.retry_after("c", now=61)
    assert set(limiter._hits) == {"a", "c"}  # the least recently seen key is forgotten


def test_the_cache_keeps_an_answer_until_it_expires_and_not_at_all_with_no_ttl() -> None:
    cache = ExpiringCache(ttl=60, max_entries=1)
    cache.put("k", b"x", now=0)
    assert cache.get("k", now=59) == b"x" and cache.get("k", now=60) is None
    cache.put("k", b"x", now=0)
    cache.put("j", b"y", now=0)
    assert cache.get("k", now=1) is None and cache.get("j", now=1) == b"y"
    off = ExpiringCache(ttl=0)
    off.put("k", b"x", now=0)
    assert off.get("k", now=0) is None
