"""Jobs: recorded runs, the lease, the inbox, the calendar watch, run-job, and two scheduler processes."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tests.helpers import local
from tracker.models import JobRun, Order
from tracker.services.accounts.actors import Actor
from tracker.services.imports.inbox import process_inbox
from tracker.services.imports.reader import Limits
from tracker.services.operations.job_runs import JobResult, run_recorded
from tracker.services.operations.leadership import hold_lease

ROOT = Path(__file__).resolve().parents[2]
CSV = ROOT / "sample_orders" / "城管诉件导出_2026-11-20.csv"


def test_the_lease_has_one_holder_until_it_expires(session: Session) -> None:
    now = local("2026-11-26 09:00")
    assert hold_lease(session, holder="A", now=now, ttl=timedelta(seconds=30))
    assert not hold_lease(session, holder="B", now=now + timedelta(seconds=10))
    assert hold_lease(session, holder="A", now=now + timedelta(seconds=20), ttl=timedelta(seconds=30))  # renewed
    assert not hold_lease(session, holder="B", now=now + timedelta(seconds=45))
    assert hold_lease(session, holder="B", now=now + timedelta(seconds=51))  # A stopped renewing
    assert not hold_lease(session, holder="A", now=now + timedelta(seconds=52))


def test_runs_are_recorded_and_a_failing_job_never_raises(engine: Engine) -> None:
    def good(session: Session, *, now: object) -> JobResult:
        return JobResult("完成", {"n": 1})

    def bad(session: Session, *, now: object) -> JobResult:
        raise RuntimeError("磁盘已满")

    ok = run_recorded(engine, "good", good, now=local("2026-11-26 09:00"), runner="test")
    failed = run_recorded(engine, "bad", bad, now=local("2026-11-26 09:00"), runner="test")
    skipped = run_recorded(engine, "good", good, now=local("2026-11-26 09:00"), runner="test", guard=lambda s: False)
    assert (ok.outcome, ok.summary, ok.counts) == ("ok", "完成", {"n": 1})
    assert (failed.outcome, failed.summary) == ("error", "运行失败：RuntimeError，详见运行记录的错误信息")
    assert failed.error is not None and "RuntimeError: 磁盘已满" in failed.error
    assert skipped.outcome == "skipped"
    with Session(engine) as session:
        assert [r.outcome for r in session.exec(select(JobRun).order_by(JobRun.id)).all()] == ["ok", "error", "skipped"]  # type: ignore[arg-type]


def test_the_inbox_files_each_export_under_done_or_failed(session: Session, engine: Engine, tmp_path: Path) -> None:
    session.commit()
    inbox = tmp_path / "inbox"
    (inbox / "城管诉件").mkdir(parents=True)
    (inbox / "城管诉件" / CSV.name).write_bytes(CSV.read_bytes())
    (inbox / "坏文件.xlsx").write_text("not a workbook", encoding="utf-8")
    (inbox / "说明.txt").write_text("ignored", encoding="utf-8")
    result = process_inbox(
        engine,
        inbox,
        now=local("2026-11-26 07:00"),
        limits=Limits(),
        repeat_window=timedelta(days=30),
        actor=Actor.job("inbox"),
        clock=lambda: time.time() + 61,  # a minute after the files were written: settled
    )
    assert (result.imported, result.refused) == ([CSV.name], ["坏文件.xlsx"])
    assert result.summary() == "收件箱：导入 1 个文件，拒绝 1 个文件"
    done = json.loads((inbox / "done" / f"{CSV.name}.report.json").read_text(encoding="utf-8"))
    assert (done["created"], done["source"]) == (90, "城管诉件")
    failed = json.loads((inbox / "failed" / "坏文件.xlsx.report.json").read_text(encoding="utf-8"))
    assert "内容却不是 Excel 工作簿" in failed["refused"]
    assert (inbox / "说明.txt").exists() and not (inbox / "城管诉件" / CSV.name).exists()
    with Session(engine) as fresh:
        assert len(fresh.exec(select(Order)).all()) == 90


@pytest.mark.parametrize(
    ("when", "summary"),
    [
        ("2026-10-15 09:00", "10 月无需检查次年节假日安排"),
        ("2026-11-26 09:00", "警告：2027 年节假日安排尚未载入"),
    ],
)
def test_calendar_watch(session: Session, when: str, summary: str) -> None:
    from jobs import calendar_watch

    assert calendar_watch.run(session, now=local(when)).summary.startswith(summary)


def test_the_advisory_lock_has_one_holder_until_its_session_ends(database_url: str) -> None:
    """PostgreSQL: the scheduler lock is a session-level advisory lock (SQLite uses the lease row above)."""
    from jobs.advisory import AdvisoryLock

    if not database_url.startswith("postgresql"):
        with pytest.raises(ValueError, match="advisory locks need PostgreSQL"):
            AdvisoryLock(database_url)
        return
    key = 1_230_099_999  # not the scheduler's own, so a scheduler left running elsewhere cannot interfere
    first, second, other = AdvisoryLock(database_url, key), AdvisoryLock(database_url, key), create_engine(database_url)
    try:
        assert first.try_acquire() and first.held()
        assert not second.try_acquire() and not second.held()  # stands by
        assert first.try_acquire()  # asking again keeps it
        first.release()
        assert not first.held()
        # taken over as soon as the first session has ended (the server ends a closed session asynchronously)
        assert wait_for(second.try_acquire, 10) and second.held()
        with other.begin() as conn:  # the holder's session is killed (a network cut, an administrator)
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks"
                    " WHERE locktype = 'advisory' AND objid = :key AND granted"
                ),
                {"key": key},
            )
        assert not second.held()  # it notices, and the scheduler using it stops
        assert first.try_acquire()
    finally:
        first.release()
        second.release()
        other.dispose()


def test_run_job_command(runner, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    runner.invoke(args=["demo-load", "--now", "2026-11-26T10:00"])
    result = runner.invoke(args=["run-job", "scan", "--now", "2026-11-26T10:05"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("预警扫描：新增 ")
    with Session(engine) as session:
        run = session.exec(select(JobRun)).one()
    assert (run.job_id, run.outcome) == ("scan", "ok") and sum(run.counts["open"].values()) > 0  # demo-load scanned


def test_snapshot_metrics_command_fills_older_days(runner, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    from tracker.models import MetricSnapshot

    runner.invoke(args=["demo-load", "--now", "2026-11-26T10:00"])
    result = runner.invoke(args=["snapshot-metrics", "--from", "2026-11-01", "--to", "2026-11-10"])
    assert result.exit_code == 0, result.output
    assert "指标快照：2026-11-01 至 2026-11-10，共 10 天、" in result.output
    with Session(engine) as session:
        days = {r.day for r in session.exec(select(MetricSnapshot)).all()}
        categories = {r.category for r in session.exec(select(MetricSnapshot)).all()}
    assert days and min(days) >= date(2026, 11, 1) and max(days) <= date(2026, 11, 10)
    assert "" in categories and len(categories) > 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2026-11-31", "--to", "2026-12-01"], "日期「2026-11-31」或「2026-12-01」无效：应为 YYYY-MM-DD"),
        (["--from", "2026-11-10", "--to", "2026-11-01"], "结束日期 2026-11-01 早于开始日期 2026-11-10"),
    ],
)
def test_snapshot_metrics_command_refuses_bad_dates(runner, engine: Engine, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    from tracker.models import MetricSnapshot

    result = runner.invoke(args=["snapshot-metrics", *args])
    assert result.exit_code == 2 and message in result.output
    with Session(engine) as session:
        assert session.exec(select(MetricSnapshot)).first() is None


def scheduler(database_url: str, every_minutes: str = "0.05") -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "TRACKER_DATABASE_URL": database_url,
        "TRACKER_SCAN_EVERY_MINUTES": every_minutes,
        "TRACKER_SCHEDULER_LEASE_SECONDS": "4",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "jobs"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def scans(engine: Engine) -> list[JobRun]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(JobRun).where(JobRun.job_id == "scan", JobRun.outcome == "ok").order_by(JobRun.id)
            ).all()
        )  # type: ignore[arg-type]


def wait_for(condition, seconds: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return False


@pytest.mark.slow
def test_one_scheduler_runs_the_other_stands_by_and_takes_over(app, engine: Engine, database_url: str) -> None:  # type: ignore[no-untyped-def]
    first = scheduler(database_url)
    try:
        assert wait_for(lambda: len(scans(engine)) >= 2, 60), "the first scheduler never ran the scan"
        second = scheduler(database_url)
        try:
            time.sleep(8)
            runners = {run.runner for run in scans(engine)}
            assert len(runners) == 1, runners  # the second one only stands by
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
            before = len(scans(engine))
            assert wait_for(lambda: len({r.runner for r in scans(engine)}) == 2, 40), "no takeover"
            runs = scans(engine)
            assert len(runs) > before
            order = [run.runner for run in runs]
            assert order == sorted(order, key=order.index)  # all of the first's runs, then all of the second's
            handover = [(a, b) for a, b in itertools.pairwise(runs) if a.runner != b.runner]
            assert len(handover) == 1 and handover[0][1].started_at - handover[0][0].started_at > timedelta(seconds=1)
        finally:
            second.kill()
            second.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(timeout=10)


@pytest.mark.slow
def test_a_run_missed_while_stopped_happens_once_after_restart(app, engine: Engine, database_url: str) -> None:  # type: ignore[no-untyped-def]
    first = scheduler(database_url, every_minutes="0.2")  # every 12 seconds
    try:
        assert wait_for(lambda: len(scans(engine)) >= 1, 60)
    finally:
        first.kill()
        first.wait(timeout=10)
    stopped = len(scans(engine))
    time.sleep(30)  # two ticks missed
    restarted = datetime.now(UTC)
    second = scheduler(database_url, every_minutes="0.2")
    try:
        assert wait_for(lambda: len(scans(engine)) > stopped, 30), "the missed run did not happen"
        time.sleep(3)
        caught_up = [run.started_at for run in scans(engine)[stopped:]]
        assert caught_up[0] - restarted < timedelta(seconds=8)  # at once, not at the next 12-second tick
        burst = [b for b in caught_up if b - caught_up[0] < timedelta(seconds=1)]
        assert len(burst) == 1  # the two missed ticks ran once, not once each
    finally:
        second.kill()
        second.wait(timeout=10)


def test_digests_per_street_stored_and_mailed(session: Session, new_order, make_ctx, calendar, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    from tracker.domain.lifecycle import ActionInput
    from tracker.domain.vocabulary import Action
    from tracker.models import Digest
    from tracker.services.orders.actions import apply_action
    from tracker.services.orders.alerts import scan
    from tracker.services.orders.digests import MailSettings, build_digests, send_digests

    late = new_order("2026-11-20 09:00", order_no="D1", street="北站街道")
    closed = new_order("2026-11-24 09:00", order_no="D2", street="北站街道")
    apply_action(session, order=closed, action=Action.SIGN, data=ActionInput(), ctx=make_ctx("2026-11-24 09:30"))
    apply_action(
        session,
        order=closed,
        action=Action.CLOSE,
        data=ActionInput(reply="已处理", verdict="实际解决"),
        ctx=make_ctx("2026-11-25 15:00"),
    )
    scan(session, now=local("2026-11-26 08:00"), calendar=calendar)
    digests = build_digests(session, now=local("2026-11-26 08:30"))
    assert [d.street for d in digests] == ["北站街道"]
    text = digests[0].text
    assert text.splitlines()[0] == "北站街道 2026-11-26 诉件日报"
    assert "一、过去 24 小时新增或升级的预警 2 项" in text and "D1 先行联系（红）" in text and "D1 办结（蓝）" in text
    assert (
        "二、截至发送时已超期、仍未完成的环节 1 个环节，涉及 1 件工单" in text
        and "三、昨日办结 1 件" in text
        and "D2 办结于 2026-11-25 15:00 实际解决" in text
    )
    assert len(build_digests(session, now=local("2026-11-26 09:00"))) == 1  # a rerun rebuilds, no duplicate
    assert len(session.exec(select(Digest)).all()) == 1
    assert late.street == "北站街道"

    received: list[object] = []

    class Collect(Message):  # type: ignore[misc]
        def handle_message(self, message: object) -> None:
            received.append(message)

    import socket

    with socket.socket() as probe:  # a free port on the loopback
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Collect(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        sent = send_digests(
            digests,
            mail=MailSettings(host="127.0.0.1", port=port, sender="tracker@jingan.example"),
            recipients={"北站街道": ["beizhan@jingan.example"]},
        )
    finally:
        controller.stop()
    assert sent == (1, 0) and len(received) == 1
    message = received[0]
    assert message["To"] == "beizhan@jingan.example"  # type: ignore[index]
    from email.header import decode_header, make_header

    assert str(make_header(decode_header(message["Subject"]))) == "【诉件日报】北站街道 2026-11-26"  # type: ignore[index]
    assert digests[0].emailed_to == "beizhan@jingan.example"


def test_metrics_snapshot_per_street_with_numerators_and_denominators(session: Session, new_order, make_ctx) -> None:  # type: ignore[no-untyped-def]
    from jobs import metrics
    from tracker.domain.lifecycle import ActionInput
    from tracker.domain.vocabulary import Action
    from tracker.models import MetricSnapshot
    from tracker.services.orders.actions import apply_action

    a = new_order("2026-11-24 09:00", order_no="M1", street="北站街道", satisfaction="基本满意", category="油烟扰民")
    b = new_order("2026-11-24 10:00", order_no="M2", street="北站街道", is_repeat=True, category="噪声扰民")
    new_order("2026-11-24 11:00", order_no="M3", street="彭浦镇")
    apply_action(
        session,
        order=a,
        action=Action.FIRST_CONTACT,
        data=ActionInput(contact_result="已联"),
        ctx=make_ctx("2026-11-24 09:30"),
    )
    apply_action(session, order=a, action=Action.SIGN, data=ActionInput(), ctx=make_ctx("2026-11-24 09:40"))
    apply_action(
        session,
        order=a,
        action=Action.CLOSE,
        data=ActionInput(reply="已处理", verdict="实际解决"),
        ctx=make_ctx("2026-11-25 10:00"),
    )
    apply_action(
        session,
        order=b,
        action=Action.REQUEST_RETURN,
        data=ActionInput(reason_code="重复件", basis="同一问题"),
        ctx=make_ctx("2026-11-24 11:00"),
    )
    result = metrics.run(session, now=local("2026-11-25 01:00"))  # snapshot of 11-24
    assert (
        result.summary == "指标快照：2026-10-25 至 2026-11-24，共 15 项；分析页快照 1 份"
    )  # 2 streets and 3 street × category, 3 rates each; the 分析 page of the district (no street registered)
    snapshot = session.exec(select(MetricSnapshot)).all()
    rows = {(r.street, r.metric): (r.numerator, r.denominator, r.basis) for r in snapshot if r.category == ""}
    by_category = {(r.street, r.category, r.metric): (r.numerator, r.denominator) for r in snapshot if r.category}
    assert by_category == {
        ("北站街道", "油烟扰民", "intake"): (1, 1),
        ("北站街道", "油烟扰民", "return_rate"): (0, 1),
        ("北站街道", "油烟扰民", "repeat_rate"): (0, 1),
        ("北站街道", "噪声扰民", "intake"): (1, 1),
        ("北站街道", "噪声扰民", "return_rate"): (1, 1),
        ("北站街道", "噪声扰民", "repeat_rate"): (1, 1),
        ("彭浦镇", "（未填分类）", "intake"): (1, 1),
        ("彭浦镇", "（未填分类）", "return_rate"): (0, 1),
        ("彭浦镇", "（未填分类）", "repeat_rate"): (0, 1),
    }
    assert rows[("北站街道", "intake")] == (2, 2, "派单日期")
    assert rows[("北站街道", "return_rate")] == (1, 2, "派单日期")
    assert rows[("北站街道", "repeat_rate")] == (1, 2, "派单日期")
    assert rows[("彭浦镇", "intake")] == (1, 1, "派单日期")
    metrics.run(
        session, now=local("2026-11-26 01:00")
    )  # 11-25: M1 closed, contact deadlines of 11-24's orders fell on 11-25
    day2 = {
        (r.street, r.metric): (r.numerator, r.denominator)
        for r in session.exec(select(MetricSnapshot).where(MetricSnapshot.day == date(2026, 11, 25))).all()
        if r.category == ""
    }
    assert day2[("北站街道", "resolved_rate")] == (1, 1)
    assert day2[("北站街道", "satisfaction_rate")] == (0.8, 1)
    assert day2[("北站街道", "redo_rate")] == (0, 1)
    assert day2[("北站街道", "contact_rate")] == (1, 2)  # M2 was due for contact on 11-25 and never contacted
    metrics.run(session, now=local("2026-11-25 01:00"))  # a rerun replaces, never duplicates
    assert len(session.exec(select(MetricSnapshot).where(MetricSnapshot.day == date(2026, 11, 24))).all()) == 15
    b.category = "违法搭建"  # corrected after the night's run: the old category's row is zeroed, not left standing
    session.add(b)
    metrics.run(session, now=local("2026-11-25 01:00"))
    again = {
        (r.category, r.metric): (r.numerator, r.denominator)
        for r in session.exec(select(MetricSnapshot).where(MetricSnapshot.day == date(2026, 11, 24))).all()
        if r.street == "北站街道"
    }
    assert again[("噪声扰民", "intake")] == (0, 0) and again[("违法搭建", "intake")] == (1, 1)
    assert again[("", "intake")] == (2, 2)


def test_a_mail_failure_keeps_the_digests_and_says_so(session: Session, new_order, calendar) -> None:  # type: ignore[no-untyped-def]
    import socket

    from tracker.services.orders.alerts import scan
    from tracker.services.orders.digests import MailSettings, build_digests, send_digests

    new_order("2026-11-20 09:00", order_no="F1", street="北站街道")
    scan(session, now=local("2026-11-26 08:00"), calendar=calendar)
    digests = build_digests(session, now=local("2026-11-26 08:30"))
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = send_digests(
        digests, mail=MailSettings(host="127.0.0.1", port=port), recipients={"北站街道": ["a@b.example"]}
    )
    assert result == (0, 1)
    assert digests[0].emailed_to == "" and digests[0].id is not None  # kept, to be sent next time


def test_the_inbox_runs_under_the_scheduler_lease(app, engine: Engine, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from jobs.runner import release_lock, run_job
    from tracker.services.imports import importer as importing

    monkeypatch.setattr(importing, "IMPORT_LOCK_WAIT_MS", 3000)  # fail fast should the lease hold the write lock
    inbox = tmp_path / "inbox" / "城管诉件"
    inbox.mkdir(parents=True)
    (inbox / CSV.name).write_bytes(CSV.read_bytes())
    app.config["INBOX_DIR"] = str(tmp_path / "inbox")
    app.config["INBOX_SETTLE_SECONDS"] = 0  # the file was written whole just above
    try:
        with app.app_context():
            run = run_job("inbox", local("2026-11-26 07:00"), guarded=True)
    finally:
        release_lock()  # PostgreSQL: this test process took the advisory lock; later scheduler processes need it
    assert (run.outcome, run.summary) == ("ok", "收件箱：导入 1 个文件，拒绝 0 个文件"), run.error
    assert (tmp_path / "inbox" / "done" / CSV.name).exists()


def test_blue_from_a_rest_day_means_by_the_next_working_day(session: Session, calendar) -> None:  # type: ignore[no-untyped-def]
    from tracker.services.orders.alerts import blue_horizon

    assert blue_horizon(
        local("2026-11-28 10:00"), calendar, __import__("tracker.domain.deadlines", fromlist=["x"]).AlertThresholds()
    ) == local("2026-11-30 23:59:59")
    assert blue_horizon(
        local("2026-11-27 10:00"), calendar, __import__("tracker.domain.deadlines", fromlist=["x"]).AlertThresholds()
    ) == local("2026-11-30 23:59:59")
