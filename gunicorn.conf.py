"""gunicorn settings for serving the tracker (`make serve`, deploy/tracker-web.service, the container).

Every value can be changed by an environment variable, so the same file serves a laptop and the bureau.
"""

import multiprocessing
import os
import shutil
import sys
import tempfile

bind = os.environ.get("TRACKER_BIND", "127.0.0.1:8000")
# CPU-bound pages and imports: two workers per core, at least two, at most eight unless told otherwise.
workers = int(os.environ.get("TRACKER_WEB_WORKERS", str(min(max(2 * multiprocessing.cpu_count(), 2), 8))))
worker_class = "sync"
timeout = int(os.environ.get("TRACKER_WEB_TIMEOUT", "120"))  # an upload's dry run reads the whole file
graceful_timeout = 30
keepalive = 5
max_requests = 2000  # a worker is replaced now and then, so memory a large import took is given back
max_requests_jitter = 200
# gunicorn's control socket (for gunicornc) would default to $HOME/.gunicorn/gunicorn.ctl: the service account
# cannot write its home (/opt/tracker, owned by root), and two instances on one host would share it. Only where
# TRACKER_CONTROL_SOCKET names a path (deploy/tracker-web.service: /run/tracker-web/gunicorn.ctl).
if os.environ.get("TRACKER_CONTROL_SOCKET"):
    control_socket = os.environ["TRACKER_CONTROL_SOCKET"]
else:
    control_socket_disable = True
forwarded_allow_ips = os.environ.get("TRACKER_FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = os.environ.get("TRACKER_ACCESS_LOG", "-")
errorlog = "-"
# The path without its query string (%(U)s, not %(r)s): a query may carry a phone number or a name.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'
if os.environ.get("TRACKER_LOG_FORMAT", "json") != "text":  # one JSON object per line, as the app's own logs
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {
                "()": "tracker.logs.MaskedJsonFormatter",
                "fmt": "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s",
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger", "process": "pid"},
                "json_ensure_ascii": False,  # Chinese messages readable in journalctl and grep
            }
        },
        "filters": {"request": {"()": "tracker.logs.RequestContext"}},  # request id, user and route
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "filters": ["request"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": "INFO", "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "gunicorn.access": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        },
    }

# Request metrics from every worker in one place (prometheus-client's multiprocess mode); set before any
# worker imports prometheus_client, emptied when the server starts.
metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.path.join(
    tempfile.gettempdir(), f"tracker-metrics-{os.getpid()}"
)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir


def on_starting(server: object) -> None:
    """Refuse to serve without a shared secret key: each worker would pick its own, and nobody could sign in."""
    if not (os.environ.get("TRACKER_SECRET_KEY") or os.environ.get("TRACKER_SECRET_KEY_FILE")):
        sys.stderr.write(
            "未设置 TRACKER_SECRET_KEY（或 TRACKER_SECRET_KEY_FILE）：多个工作进程各自生成密钥，登录会失败。\n"
            '请先设置，例如：export TRACKER_SECRET_KEY="$(openssl rand -hex 32)"，'
            "或把密钥写入文件并设置 TRACKER_SECRET_KEY_FILE。\n"
        )
        raise SystemExit(1)
    shutil.rmtree(metrics_dir, ignore_errors=True)
    os.makedirs(metrics_dir, exist_ok=True)


def child_exit(server: object, worker: object) -> None:
    """A worker's request metrics stop counting as live when it exits."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]
