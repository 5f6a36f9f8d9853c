"""Mapping profiles: the built-in ones load; a malformed profile is explained by key and value."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracker.services.imports.profiles import ProfileError, builtin_profiles, load_profile, parse_profile


def test_builtin_profiles() -> None:
    names = {p.name: p for p in builtin_profiles()}
    assert set(names) == {"12345", "城管诉件", "nyc311"}
    assert names["城管诉件"].source == "城管诉件"
    assert names["12345"].fields_for("１２３４５工单编号") == ("工单编号",)  # full-width header spelling
    assert names["nyc311"].fields_for("Created Date") == ("受理时间", "派单时间")
    assert names["nyc311"].map_value("所属街镇", "Unspecified") == ""


def test_every_alias_of_domain_md_section_4_is_in_the_12345_profile() -> None:
    profile = load_profile("12345")
    aliases = {
        "工单编号": ["12345工单编号", "任务号", "任务编号", "热线工单编号"],
        "受理时间": ["12345受理时间", "登记时间", "来电时间"],
        "派单时间": ["派遣时间", "转办时间", "下派时间"],
        "工单来源": ["12345工单来源", "渠道来源", "案件来源"],
        "处理方式": ["工单类型"],
        "诉求类型": ["12345工单类型", "业务类型"],
        "问题分类": ["二级分类", "一级分类", "五级分类", "案件小类"],
        "紧急程度": ["优先级"],
        "诉求内容": ["12345内容描述", "问题描述", "市民原信内容"],
        "地址": ["12345诉求地址", "发生地址"],
        "所属街镇": ["街道", "街道名", "街镇"],
        "承办单位": ["主办单位", "主责部门", "三级主责部门"],
        "处理时限": ["办结时限", "应办结时间", "截止时间"],
        "办结时间": ["结案时间", "处理完成时间", "反馈时间"],
        "答复内容": ["答复市民要点", "回复内容", "办结汇总"],
        "结案评判": ["解决情况", "办理结果", "是否解决"],
        "满意度": ["综合满意度", "回访总体满意度", "是否满意"],
        "是否重复": ["12345工单是否重复"],
        "重复工单号": ["12345重复工单号"],
        "诉求人": ["反映人"],
        "联系电话": ["来电号码", "市民移动电话"],
    }
    for canonical, spellings in aliases.items():
        for spelling in [canonical, *spellings]:
            assert canonical in profile.fields_for(spelling), spelling


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name = ", "不是有效的 TOML"),
        ("title = 'x'", "缺少 name（文本）"),
        (
            "name = 'x'\ntimezone = 'Mars/Olympus'\n[headers]\n'工单编号' = []",
            "timezone「Mars/Olympus」不是有效的时区名",
        ),
        ("name = 'x'\n[headers]\n'编号' = ['ID']", "[headers] 含有未知的字段「编号」"),
        ("name = 'x'\n[headers]\n'派单时间' = ['T']", "[headers] 必须给出「工单编号」"),
        ("name = 'x'\n[headers]\n'工单编号' = 'ID'", "[headers] 中「工单编号」应为表头写法的列表"),
        (
            "name = 'x'\n[headers]\n'工单编号' = ['ID']\n[status]\n'Done' = 'finished'",
            "[status] 中「Done」对应的状态「finished」无效",
        ),
        (
            "name = 'x'\n[headers]\n'工单编号' = ['ID']\n[satisfaction]\n'good' = '好'",
            "[satisfaction] 中「good」对应的值「好」无效",
        ),
        (
            "name = 'x'\ndate_formats = '%Y'\n[headers]\n'工单编号' = ['ID']",
            "date_formats 应为 strptime 格式字符串的列表",
        ),
    ],
)
def test_bad_profiles_are_explained(text: str, message: str) -> None:
    with pytest.raises(ProfileError) as bad:
        parse_profile(text, path=Path("mine.toml"))
    assert message in str(bad.value) and "导入配置「mine.toml」" in str(bad.value)


def test_unknown_builtin_and_missing_file() -> None:
    with pytest.raises(ProfileError, match="没有名为「上海」的内置导入配置"):
        load_profile("上海")
    with pytest.raises(ProfileError, match="无法打开"):
        load_profile("/no/such/profile.toml")
