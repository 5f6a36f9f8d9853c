# Two commands for a newcomer:  `make demo` (set up, load samples, serve)  and  `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: demo serve test lint bench bench-deadlines bench-import bench-jobs bench-web samples clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "需要 Python 3.11 或更新版本；可用 make PYTHON=python3.11 指定")'
	@$(PYTHON) -m venv $(VENV) || { echo "无法创建虚拟环境；Debian/Ubuntu 上请先安装 python3-venv（或 python3.11-venv）"; exit 1; }

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.txt
	@touch $@

## demo: create .venv, migrate instance/tracker.db, load the sample exports, serve http://127.0.0.1:5000
## with the scheduler (python -m jobs) beside it; Ctrl-C stops both
demo: $(VENV)/.installed
	$(BIN)/flask --app wsgi init-db
	$(BIN)/flask --app wsgi demo-load
	@$(BIN)/python -m jobs & jobs_pid=$$!; trap 'kill $$jobs_pid 2>/dev/null; wait $$jobs_pid 2>/dev/null' EXIT INT TERM; \
	$(BIN)/flask --app wsgi run --host $(HOST) --port $(PORT)

## serve: production serving as deploy/*.service run it: gunicorn with gunicorn.conf.py (needs TRACKER_SECRET_KEY
## or TRACKER_SECRET_KEY_FILE; TRACKER_BIND, default 127.0.0.1:8000) and the scheduler beside it; Ctrl-C stops both
serve: $(VENV)/.installed
	$(BIN)/flask --app wsgi init-db
	@$(BIN)/python -m jobs & jobs_pid=$$!; trap 'kill $$jobs_pid 2>/dev/null; wait $$jobs_pid 2>/dev/null' EXIT INT TERM; \
	$(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

## test: lint, type-check the domain, run the whole suite (PostgreSQL too when TRACKER_TEST_DATABASE_URL is set)
test: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## bench: every benchmark; each prints one JSON line last
bench: bench-deadlines bench-import bench-jobs

bench-deadlines: $(VENV)/.installed-dev
	$(BIN)/python -m benchmarks.deadlines

## bench-import: needs the sqlite3 command-line shell (Debian package sqlite3) as the reference;
## BENCH_ROWS=100000 for a shorter run; TRACKER_BENCH_PG_URL adds PostgreSQL (its public schema is dropped);
## the clerk's morning (bench-import-daily's figures, into BENCH_BASE_ROWS orders) joins its one JSON line
BENCH_ROWS ?= 1000000
BENCH_BASE_ROWS ?= 1000000
bench-import: $(VENV)/.installed-dev
	@command -v sqlite3 >/dev/null || { echo "需要 sqlite3 命令行工具：apt-get install sqlite3"; exit 1; }
	$(BIN)/python -m benchmarks.import_orders --rows $(BENCH_ROWS) --daily-base-rows $(BENCH_BASE_ROWS)

## bench-import-daily: the clerk's morning, a 2,000-row export (1,500 new orders, 500 updates of open ones) into
## BENCH_BASE_ROWS orders (default 1,000,000; the base built once under instance/bench-daily/ and reused): the CLI
## import and the web dry run + commit on SQLite, against sqlite3 .import of the same rows into a table of that size;
## TRACKER_BENCH_PG_URL adds PostgreSQL against psql \copy (its public schema is dropped); BENCH_BASE_ROWS=200000 for a shorter run
.PHONY: bench-import-daily
bench-import-daily: $(VENV)/.installed-dev
	@command -v sqlite3 >/dev/null || { echo "需要 sqlite3 命令行工具：apt-get install sqlite3"; exit 1; }
	$(BIN)/python -m benchmarks.import_daily --base-rows $(BENCH_BASE_ROWS)

## bench-jobs: one overdue scan over 1,000,000 orders (300,000 open) in SQLite; TRACKER_BENCH_PG_URL adds
## PostgreSQL (its public schema is dropped), e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test
bench-jobs: $(VENV)/.installed-dev
	$(BIN)/python -m benchmarks.scan

## bench-web: gunicorn (4 workers) on 127.0.0.1 over BENCH_ORDERS orders in SQLite (built once under
## instance/, reused), 20 simulated users for BENCH_SECONDS; BENCH_ORDERS=100000 for a shorter run
BENCH_ORDERS ?= 1000000
BENCH_SECONDS ?= 60
bench-web: $(VENV)/.installed-dev
	$(BIN)/python -m benchmarks.web --orders $(BENCH_ORDERS) --duration $(BENCH_SECONDS)

## samples: regenerate sample_orders/ (deterministic)
samples: $(VENV)/.installed
	$(BIN)/python -m sample_orders.generate

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache .hypothesis

## bench-dashboard: the 统计 page over BENCH_ORDERS orders in SQLite (the bench-web database, built once
## under instance/ and reused), a supervisor and a squad user; target under 1 second server time
.PHONY: bench-dashboard
bench-dashboard: $(VENV)/.installed-dev
	$(BIN)/python -m benchmarks.dashboard --orders $(BENCH_ORDERS)

## bench-sampling: preview, draw and store (5 times, median) a spot-check sample from 100,000 closed orders in a temporary SQLite
.PHONY: bench-sampling
bench-sampling: $(VENV)/.installed-dev
	$(BIN)/python -m benchmarks.sampling

## bench-ops: two gunicorn instances (2 workers each) and two schedulers on PostgreSQL, 10 users for BENCH_SECONDS;
## instance A and the active scheduler are killed with SIGKILL a third of the way in. TRACKER_BENCH_PG_URL names the
## database (its public schema is dropped), e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test
.PHONY: bench-ops
bench-ops: $(VENV)/.installed-dev
	$(BIN)/python -m benchmarks.ops --duration $(BENCH_SECONDS)

## bench-concurrency: gunicorn (4 workers) on SQLite, then on PostgreSQL: 30 simultaneous sign-ins, then 10 users acting
## while a 20,000-row export is uploaded and confirmed through the web; counts 5xx, prints the slowest wait. TRACKER_BENCH_PG_URL
## names the PostgreSQL database (its public schema is dropped), e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test
.PHONY: bench-concurrency
bench-concurrency: $(VENV)/.installed-dev
	$(BIN)/python -m benchmarks.concurrency

## bench-counts: the live count of overdue and due-soon work (services.orders.counts, read by every page's badge)
## over BENCH_COUNTS_ORDERS orders (default 300,000, 30 % open) in a temporary SQLite, district-wide and for a
## squad, against the raw SQL counting the overdue stages and their orders
.PHONY: bench-counts
bench-counts: $(VENV)/.installed-dev
	$(BIN)/python -m benchmarks.counts

## bench-csv: the CSV beside an XLSX export over BENCH_CSV_ROWS order-like rows (default 20,000): written straight
## from the cells (the orders export) and read back from the workbook (the other exports), against building the XLSX
.PHONY: bench-csv
bench-csv: $(VENV)/.installed-dev
	$(BIN)/python -m benchmarks.csv_export

## bench-analysis: the 分析 page over BENCH_ORDERS orders in SQLite (the bench-web database, built once under instance/
## and reused), a supervisor and a squad user, against a raw SQL GROUP BY over the same rows; target under 1 second
.PHONY: bench-analysis
bench-analysis: $(VENV)/.installed-dev
	$(BIN)/python -m benchmarks.analysis --orders $(BENCH_ORDERS)

## bench-open311: one bounded page (1,000 requests) of Open311 requests.json over BENCH_OPEN311_ORDERS orders (default
## 300,000) in a temporary SQLite: first and deep page of a 90-day window, a category, 1,000 ids, a cached answer,
## against the raw SQL reading the same rows
.PHONY: bench-open311
bench-open311: $(VENV)/.installed-dev
	$(BIN)/python -m benchmarks.open311

## bench-api: reading /api/v1's query parameters through the pydantic models against the hand-written reading they
## replaced, and building the OpenAPI document
.PHONY: bench-api
bench-api: $(VENV)/.installed-dev
	$(BIN)/python -m benchmarks.api_params
