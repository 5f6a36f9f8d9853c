"""The 核查 rule of 热线通报 lines in the rule table, from the command line."""

from __future__ import annotations


def test_the_verification_rule_is_listed_and_set(runner) -> None:  # type: ignore[no-untyped-def]
    assert "通报核查  通用        3 个工作日" in runner.invoke(args=["rules", "list"]).output
    result = runner.invoke(args=["rules", "set", "通报核查", "5", "--note", "本局规定"])
    assert result.exit_code == 0, result.output
    listed = runner.invoke(args=["rules", "list"]).output
    assert "5 个工作日" in listed.split("通报核查")[1] and "默认" not in listed.split("通报核查")[1]
    result = runner.invoke(args=["rules", "set", "verification", "400"])
    assert result.exit_code == 1 and "通报核查期限「400」应在 0–365 之间" in result.output
