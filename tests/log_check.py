"""The whole suite's logs, written as production writes them (JSON, masked), must hold no mobile number.

Every record any test logs goes through the production formatter into one file; at the end of the
run the file is searched for 11-digit mobile numbers, and the run fails if one is found.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import pytest

from tracker.domain.privacy import MOBILE_IN_TEXT
from tracker.logs import RequestContext, formatter

SUITE_LOG = Path(tempfile.gettempdir()) / f"tracker-suite-log-{os.getpid()}.jsonl"


def pytest_configure(config: pytest.Config) -> None:
    handler = logging.FileHandler(SUITE_LOG, mode="w", encoding="utf-8")
    handler.setFormatter(formatter("json"))
    handler.addFilter(RequestContext())
    handler.setLevel(logging.INFO)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(min(root.level or logging.INFO, logging.INFO))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not SUITE_LOG.exists():
        return
    lines = SUITE_LOG.read_text(encoding="utf-8").splitlines()
    leaks = [line for line in lines if MOBILE_IN_TEXT.search(line)]
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(
            f"日志检查：本次运行共记录 {len(lines)} 行日志（{SUITE_LOG}），含完整手机号 {len(leaks)} 行"
        )
        for line in leaks[:5]:
            reporter.write_line(f"  {line[:300]}")
    if leaks:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
