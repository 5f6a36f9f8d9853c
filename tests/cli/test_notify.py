"""`notify load-channels` and the scheduler's notify job, through the command line, against a local robot."""

from __future__ import annotations

import json
import re

from sqlmodel import Session, select

from tests.helpers_notify import Robot
from tracker.models import JobRun, NotifyChannel
from tracker.services.orders import add_street

MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def test_load_channels_all_or_none(app, runner, engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        add_street(s, name="静安寺街道")
        s.commit()
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[[channel]]\nstreet = "静安寺街道"\nkind = "email"\nemails = ["duty@jingansi.example.cn"]\n'
        '[[channel]]\nstreet = "静安寺街道"\nkind = "dingtalk"\n'
        'webhook = "https://oapi.dingtalk.com/robot/send?access_token=abcdef0123456789"\n'
    )
    result = runner.invoke(args=["notify", "load-channels", str(bad)])
    assert result.exit_code == 1
    assert "第 2 个 [[channel]]：街镇「静安寺街道」的钉钉机器人缺少加签密钥" in result.output
    with Session(engine) as s:
        assert s.exec(select(NotifyChannel)).all() == []
    secret = tmp_path / "ding_secret"
    secret.write_text("SEC0123456789abcdef0123456789abcdef\n")
    good = tmp_path / "good.toml"
    good.write_text(bad.read_text() + f'secret_file = "{secret}"\n')
    result = runner.invoke(args=["notify", "load-channels", str(good)])
    assert result.exit_code == 0, result.output
    assert "已保存 静安寺街道 钉钉群机器人：https://oapi.dingtalk.com/robot/send?access_token=****" in result.output
    assert "abcdef0123456789" not in result.output and "共载入 2 个通知渠道" in result.output


def test_the_scan_and_notify_jobs_reach_the_robot_once(app, runner, engine, robot: Robot, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app.config["NOTIFY_ALLOW_LOOPBACK"] = True
    app.config["PUBLIC_URL"] = "https://tracker.example.cn"
    with Session(engine) as s:
        add_street(s, name="静安寺街道")
        s.commit()
    channels = tmp_path / "channels.toml"
    channels.write_text(
        f'[[channel]]\nstreet = "静安寺街道"\nkind = "wecom"\nwebhook = "{robot.wecom("keyJingansi0001")}"\n'
    )
    assert runner.invoke(args=["notify", "load-channels", str(channels)]).exit_code == 0
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "工单编号,派单时间,诉求类型,所属街镇,联系电话,诉求人,地址\n"
        "SH202611160001,2026-11-16 09:00,投诉举报,静安寺街道,13812345678,王先生,上海市静安区南京西路1266号\n",
        encoding="utf-8",
    )
    imported = runner.invoke(args=["import-orders", "--profile", "12345", str(orders)])
    assert imported.exit_code == 0, imported.output
    assert runner.invoke(args=["run-job", "scan", "--now", "2026-11-18T09:00"]).exit_code == 0
    for minute in ("01", "02"):
        result = runner.invoke(args=["run-job", "notify", "--now", f"2026-11-18T09:{minute}"])
        assert result.exit_code == 0, result.output
    [request] = robot.requests
    content = request["json"]["markdown"]["content"]
    assert "SH202611160001" in content and "https://tracker.example.cn/orders/" in content
    assert MOBILE.search(json.dumps(request["json"], ensure_ascii=False)) is None
    with Session(engine) as s:
        runs = s.exec(select(JobRun).where(JobRun.job_id == "notify").order_by(JobRun.id)).all()
    assert [r.counts["sent"] for r in runs] == [1, 0]
    assert runs[0].summary == "新组消息 1 条；群消息与邮件：发送 1 条，待重试 0 条，放弃 0 条"
