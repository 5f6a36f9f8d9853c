"""WSGI entry point and composition root: the app, with the scheduler's ``run-job`` command added."""

import sys

import jobs.cli
from tracker import create_app
from tracker.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:  # a setting that cannot be used: its Chinese message alone, not a traceback
    sys.stderr.write(f"配置错误：{exc}\n")
    raise SystemExit(3) from None  # 3: gunicorn's "worker failed to boot", so it stops instead of retrying forever
jobs.cli.init_app(app)
