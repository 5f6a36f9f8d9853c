"""Flask commands for spot-check sampling arithmetic (no database needed)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

from tracker.domain.errors import TrackerError
from tracker.domain.intervals import z_for
from tracker.domain.sampling import (
    SizeKind,
    SizeRule,
    check_confidence,
    check_count,
    check_expected_rate,
    check_margin,
    check_percent,
    size_from_rule,
)

T = TypeVar("T")


def _number(text: str) -> float:
    """Digits as typed: "5" stays 5 so an error message repeats the user's own value."""
    try:
        return int(text)
    except ValueError:
        return float(text)


def _parsed(text: str | None, option: str, convert: Callable[[str], T], check: Callable[[T], T]) -> T | None:
    """The option's value converted and checked, or a Chinese error naming the option and value."""
    if text is None:
        return None
    try:
        return check(convert(text.strip()))
    except ValueError:
        kind = "整数" if convert is int else "有效数字"
        raise click.BadParameter(f"{option}「{text}」不是{kind}。", param_hint=option) from None
    except TrackerError as exc:
        raise click.BadParameter(exc.message, param_hint=option) from None


@click.command("sample-size")
@click.option("--population", required=True, help="总体件数 N，例如 10000")
@click.option("--margin", default=None, help="允许误差（小数），例如 0.05 表示 ±5%")
@click.option("--confidence", default=None, help="置信水平（小数，默认 0.95），仅与 --margin 一起使用")
@click.option("--expected-rate", "expected_rate", default=None, help="预期比例（默认 0.5），仅与 --margin 一起使用")
@click.option("--percent", default=None, help="按比例抽取的百分数，例如 5 表示 5%（向上取整）")
@click.option("--fixed", default=None, help="固定抽取件数（不超过总体）")
def sample_size_command(
    population: str,
    margin: str | None,
    confidence: str | None,
    expected_rate: str | None,
    percent: str | None,
    fixed: str | None,
) -> None:
    """计算抽查样本量：按允许误差（正态近似，含有限总体校正）、按比例或固定件数，三选一。"""
    size = _parsed(population, "--population", int, lambda v: check_count(v, "总体件数"))
    assert size is not None
    chosen = [
        name for name, value in (("--margin", margin), ("--percent", percent), ("--fixed", fixed)) if value is not None
    ]
    if len(chosen) != 1:
        raise click.UsageError(
            "请指定 --margin、--percent 或 --fixed 其中之一" + (f"（现为 {' 与 '.join(chosen)}）" if chosen else "")
        )
    if margin is None and (confidence is not None or expected_rate is not None):
        raise click.UsageError("--confidence 与 --expected-rate 只能与 --margin 一起使用")
    if margin is not None:
        e = _parsed(margin, "--margin", _number, check_margin)
        c = _parsed(confidence, "--confidence", _number, check_confidence)
        p = _parsed(expected_rate, "--expected-rate", _number, check_expected_rate)
        assert e is not None
        c = 0.95 if c is None else c
        p = 0.5 if p is None else p
        n = size_from_rule(SizeRule(SizeKind.MARGIN, e, c, p), size)
        z = z_for(c)
        n0 = z * z * p * (1 - p) / (e * e)
        click.echo(f"总体 {size} 件，置信水平 {c * 100:g}%，允许误差 ±{e:.1%}，预期比例 {p * 100:g}%：需抽取 {n} 件")
        click.echo(f"  z = {z:.4f}；n0 = z²·p(1−p)/e² = {n0:.2f}；n = n0 / (1 + (n0 − 1)/N) 向上取整 = {n}")
    elif percent is not None:
        share = _parsed(percent, "--percent", _number, check_percent)
        assert share is not None
        n = size_from_rule(SizeRule(SizeKind.PERCENT, share), size)
        click.echo(f"总体 {size} 件，按 {share:g}% 抽取（向上取整）：需抽取 {n} 件")
    else:
        count = _parsed(fixed, "--fixed", int, lambda v: check_count(v, "抽取件数"))
        assert count is not None
        n = size_from_rule(SizeRule(SizeKind.FIXED, count), size)
        capped = "（超过总体，按总体计）" if count > size else ""
        click.echo(f"总体 {size} 件，固定抽取 {count} 件{capped}：需抽取 {n} 件")
