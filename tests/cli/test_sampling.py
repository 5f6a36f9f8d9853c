"""flask sample-size: the sample size by margin of error, percentage or fixed count, and Chinese errors."""

from __future__ import annotations

import pytest


def lines(runner, *args: str) -> list[str]:  # type: ignore[no-untyped-def]
    result = runner.invoke(args=["sample-size", *args])
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


def test_sample_size_by_margin_prints_the_inputs_and_the_formula(runner) -> None:  # type: ignore[no-untyped-def]
    output = lines(runner, "--population", "10000", "--margin", "0.05", "--confidence", "0.95")
    assert output[0] == "总体 10000 件，置信水平 95%，允许误差 ±5.0%，预期比例 50%：需抽取 370 件"
    assert output[1] == "  z = 1.9600；n0 = z²·p(1−p)/e² = 384.15；n = n0 / (1 + (n0 − 1)/N) 向上取整 = 370"
    # the defaults are 95 % and p = 0.5
    assert lines(runner, "--population", "10000", "--margin", "0.05")[0].endswith("需抽取 370 件")
    assert lines(runner, "--population", "1000", "--margin", "0.05")[0].endswith("需抽取 278 件")
    output = lines(
        runner, "--population", "10000", "--margin", "0.05", "--confidence", "0.99", "--expected-rate", "0.1"
    )
    # z(99 %)² = 6.6349; n0 = 6.6349 · 0.09 / 0.0025 = 238.86; 238.86 / (1 + 237.86/10000) = 233.31 → 234
    assert output[0] == "总体 10000 件，置信水平 99%，允许误差 ±5.0%，预期比例 10%：需抽取 234 件"


def test_sample_size_by_percent_and_fixed(runner) -> None:  # type: ignore[no-untyped-def]
    assert lines(runner, "--population", "47", "--percent", "5") == ["总体 47 件，按 5% 抽取（向上取整）：需抽取 3 件"]
    assert lines(runner, "--population", "200", "--fixed", "30") == ["总体 200 件，固定抽取 30 件：需抽取 30 件"]
    assert lines(runner, "--population", "47", "--fixed", "50") == [
        "总体 47 件，固定抽取 50 件（超过总体，按总体计）：需抽取 47 件"
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--population", "10000", "--margin", "5"], "允许误差「5」无效：应大于 0 且小于 1，例如 0.05 表示 ±5%"),
        (["--population", "10000", "--margin", "五"], "--margin「五」不是有效数字"),
        (["--population", "10000", "--margin", "0.05", "--confidence", "95"], "置信水平「95」无效"),
        (["--population", "10000", "--margin", "0.05", "--expected-rate", "1"], "预期比例「1」无效"),
        (["--population", "-5", "--percent", "5"], "总体件数「-5」无效：应为不小于 0 的整数"),
        (["--population", "一万", "--percent", "5"], "--population「一万」不是整数"),
        (["--population", "100", "--percent", "0"], "抽样比例「0」无效"),
        (["--population", "100", "--fixed", "2.5"], "--fixed「2.5」不是整数"),
        (["--population", "100"], "请指定 --margin、--percent 或 --fixed 其中之一"),
        (["--population", "100", "--percent", "5", "--fixed", "3"], "（现为 --percent 与 --fixed）"),
        (
            ["--population", "100", "--percent", "5", "--confidence", "0.9"],
            "--confidence 与 --expected-rate 只能与 --margin 一起使用",
        ),
    ],
)
def test_sample_size_refuses_bad_values_naming_the_option(runner, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(args=["sample-size", *args])
    assert result.exit_code == 2
    assert message in result.output
