"""Running it for real: probes, the proxy setting, secrets from files, and the gunicorn settings."""

from __future__ import annotations

import importlib.util
import os
from datetime import timedelta
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from jobs.runner import release_lock, take_lease
from tracker import create_app
from tracker.config import ConfigError, secret
from tracker.models import JobRun, utcnow
from tracker.services.operations.health import schema_head

ROOT = Path(__file__).resolve().parents[2]


def stamp(engine: Engine, revision: str) -> None:
    """Record ``revision`` as the schema's Alembic version (the test schema is built from the models)."""
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32) NOT NULL)"))
        conn.execute(text("DELETE FROM alembic_version"))
        conn.execute(text("INSERT INTO alembic_version VALUES (:v)"), {"v": revision})


def scan_run(engine: Engine, ago: timedelta) -> None:
    with Session(engine) as session:
        started = utcnow() - ago
        session.add(JobRun(job_id="scan", started_at=started, finished_at=started, outcome="ok"))
        session.commit()


def test_healthz_answers_without_sign_in_or_database(app) -> None:  # type: ignore[no-untyped-def]
    response = app.test_client().get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_readyz_names_what_is_missing_until_schema_and_scheduler_are_there(app, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "init-db" in response.get_json()["problems"][0]  # built from the models: no Alembic version yet

    stamp(engine, "0000aaaa0000")
    body = client.get("/readyz").get_json()
    assert "0000aaaa0000" in body["problems"][0] and schema_head() in body["problems"][0]

    stamp(engine, schema_head())
    response = client.get("/readyz")
    assert response.status_code == 503 and "调度进程未在运行" in response.get_json()["problems"][0]

    with app.app_context():
        assert take_lease(timedelta(seconds=45))  # as python -m jobs does: the advisory lock, or the lease row
    try:
        response = client.get("/readyz")
        assert response.status_code == 503 and "预警扫描停滞" in response.get_json()["problems"][0]

        scan_run(engine, ago=timedelta(minutes=25))  # two intervals are 20 minutes (TRACKER_SCAN_EVERY_MINUTES=10)
        assert client.get("/readyz").status_code == 503

        scan_run(engine, ago=timedelta(minutes=3))
        response = client.get("/readyz")
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["status"] == "ready" and response.get_json()["problems"] == []
    finally:
        release_lock()


def test_readyz_on_an_unreachable_database_is_503(tmp_path: Path) -> None:
    app = create_app({"TESTING": True, "DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"})
    response = app.test_client().get("/readyz")
    assert response.status_code == 503 and "无法连接数据库" in response.get_json()["problems"][0]


def test_forwarded_addresses_are_believed_only_behind_the_configured_proxies(
    monkeypatch: pytest.MonkeyPatch, database_url: str, engine: Engine
) -> None:
    from flask import request

    seen: list[str | None] = []
    for proxies in ("0", "1"):
        monkeypatch.setenv("TRACKER_TRUSTED_PROXIES", proxies)
        app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "t"})
        app.before_request(lambda: seen.append(request.remote_addr) if request.path == "/healthz" else None)
        app.test_client().get(
            "/healthz", headers={"X-Forwarded-For": "203.0.113.9"}, environ_base={"REMOTE_ADDR": "10.0.0.2"}
        )
    assert seen == ["10.0.0.2", "203.0.113.9"]


def test_a_spoofed_chain_gives_the_address_the_proxy_saw(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    from flask import request

    monkeypatch.setenv("TRACKER_TRUSTED_PROXIES", "1")
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "t"})
    seen: list[str | None] = []
    app.before_request(lambda: seen.append(request.remote_addr) if request.path == "/healthz" else None)
    # the client wrote its own X-Forwarded-For; the proxy appended the address it really saw
    app.test_client().get("/healthz", headers={"X-Forwarded-For": "1.2.3.4, 198.51.100.7"})
    assert seen == ["198.51.100.7"]


def test_secrets_come_from_the_variable_or_its_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("from-file\n", encoding="utf-8")
    monkeypatch.delenv("TRACKER_SECRET_KEY", raising=False)
    monkeypatch.setenv("TRACKER_SECRET_KEY_FILE", str(key_file))
    assert secret("TRACKER_SECRET_KEY") == "from-file"
    monkeypatch.setenv("TRACKER_SECRET_KEY", "from-env")
    assert secret("TRACKER_SECRET_KEY") == "from-env"
    monkeypatch.delenv("TRACKER_SECRET_KEY")
    monkeypatch.setenv("TRACKER_SECRET_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="TRACKER_SECRET_KEY_FILE 指向的文件"):
        secret("TRACKER_SECRET_KEY")


def test_every_worker_gets_the_same_key_from_a_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str
) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("shared-key", encoding="utf-8")
    monkeypatch.delenv("TRACKER_SECRET_KEY", raising=False)
    monkeypatch.setenv("TRACKER_SECRET_KEY_FILE", str(key_file))
    assert {create_app({"DATABASE_URL": database_url}).secret_key for _ in range(3)} == {"shared-key"}


def gunicorn_settings() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gunicorn_conf", ROOT / "gunicorn.conf.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    before = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    try:
        spec.loader.exec_module(module)
    finally:  # the file points prometheus-client at a folder for gunicorn's workers; not this test process
        if before is None:
            os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        else:
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = before
    return module


def test_gunicorn_refuses_to_start_without_a_secret_key(monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("TRACKER_SECRET_KEY", raising=False)
    monkeypatch.delenv("TRACKER_SECRET_KEY_FILE", raising=False)
    settings = gunicorn_settings()
    with pytest.raises(SystemExit):
        settings.on_starting(None)
    assert "未设置 TRACKER_SECRET_KEY" in capsys.readouterr().err
    monkeypatch.setenv("TRACKER_SECRET_KEY_FILE", "/run/secrets/key")
    settings.on_starting(None)  # a key file is enough


def test_gunicorn_logs_paths_without_query_strings() -> None:
    settings = gunicorn_settings()
    assert "%(U)s" in settings.access_log_format
    assert not any(part in settings.access_log_format for part in ("%(r)s", "%(q)s", "%(f)s"))
    assert 2 <= settings.workers <= 8


def test_gunicorn_control_socket_only_where_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """Found following the README: the default $HOME/.gunicorn is not writable by the service account."""
    monkeypatch.delenv("TRACKER_CONTROL_SOCKET", raising=False)
    assert gunicorn_settings().control_socket_disable is True
    monkeypatch.setenv("TRACKER_CONTROL_SOCKET", "/run/tracker-web/gunicorn.ctl")
    settings = gunicorn_settings()
    assert settings.control_socket == "/run/tracker-web/gunicorn.ctl"
    assert not getattr(settings, "control_socket_disable", False)
    unit = (ROOT / "deploy" / "tracker-web.service").read_text(encoding="utf-8")
    assert "RuntimeDirectory=tracker-web" in unit and "TRACKER_CONTROL_SOCKET=/run/tracker-web/" in unit


def test_the_nginx_site_loads_in_debian_12s_nginx() -> None:
    """Found running deploy/nginx-tracker.conf with Debian 12's nginx 1.22 (``nginx -t``, see
    docs/production-walkthrough.md): ``http2 on;`` needs 1.25.1, ``log_format`` is refused inside ``server``."""
    site = (ROOT / "deploy" / "nginx-tracker.conf").read_text(encoding="utf-8")
    lines = [line.split("#", 1)[0].strip() for line in site.splitlines()]
    assert "http2 on;" not in lines and "listen 443 ssl http2;" in lines
    first_server = lines.index("server {")
    assert any(line.startswith("log_format tracker ") for line in lines[:first_server])
    assert not any(line.startswith("log_format") for line in lines[first_server:])
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in lines  # the hop the app trusts


@pytest.mark.parametrize("command", [["-c", "import wsgi"], ["-m", "jobs"]])
def test_an_unreadable_secret_file_stops_the_web_and_the_scheduler_with_its_chinese_message(
    command: list[str], tmp_path: Path
) -> None:
    """Found following the README: a key file the service account cannot read gave a 25-line traceback."""
    import subprocess
    import sys

    env = {**os.environ, "TRACKER_SECRET_KEY_FILE": str(tmp_path / "missing" / "secret_key")}
    env.pop("TRACKER_SECRET_KEY", None)
    done = subprocess.run([sys.executable, *command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == (3 if command[0] == "-c" else 2)  # 3: gunicorn stops instead of respawning workers
    assert (
        f"配置错误：TRACKER_SECRET_KEY_FILE 指向的文件「{tmp_path / 'missing' / 'secret_key'}」无法读取" in done.stderr
    )
    assert "Traceback" not in done.stderr
