# Switchboard: `make run` for the app with demo data, `make test` for lint + the whole suite,
# `make serve` for the production process model (gunicorn, two workers, beat) on PostgreSQL + Redis.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# Two stamps: `make run` installs what running needs (`.`); test, lint and format add the
# dev tools (`.[dev]`: pytest, Playwright, mypy, ruff, schemathesis). Either reinstalls
# when pyproject.toml or constraints.txt changes. uv installs them (pinned in
# constraints.txt, put in the venv by its pip): it downloads in parallel and compiles no
# bytecode up front, 12 s where pip took 52 s for the dev set (docs/testing.md).
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
UV_INSTALL = $(BIN)/uv pip install --quiet --python $(BIN)/python -c constraints.txt

# Python caches each compiled module, and pytest each rewritten test module, in
# __pycache__; a machine that sets PYTHONDONTWRITEBYTECODE makes every process of the
# suite (eight workers, the servers and commands tests start) compile them all again.
unexport PYTHONDONTWRITEBYTECODE

# Tests and benchmarks run on the real PostgreSQL and Redis; override to point elsewhere.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/switchboard
TEST_BROKER_URL ?= redis://127.0.0.1:6379/15
# Benchmarks fill a database of their own (created when missing; bench/_setup.py refuses any
# other) and a Redis database of their own (bench/scale_out.py purges its queues).
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/switchboard_bench
BENCH_BROKER_URL ?= redis://127.0.0.1:6379/7
# `make bench` runs every script at its default size, one after another (the sizes, and how
# long each takes: docs/benchmarks.md). Pick some and pass them arguments, e.g.
# `make bench BENCH_SCRIPTS="bench/reputation.py bench/backfill.py" BENCH_ARGS=--small`.
BENCH_SCRIPTS ?= $(filter-out bench/_% bench/fake_%,$(sort $(wildcard bench/*.py)))
BENCH_ARGS ?=
# pytest-xdist workers per run, each with a test database of its own (test_NAME_gw0, ...)
# and a broker of its own (worker n: the Redis database above minus n; tests/conftest.py).
# One worker a core in each run, at most 8 (the PostgreSQL run's workers take Redis
# databases 15 down to 8; 7 is the benches'). The two runs go at once, so that is two
# processes a core: on the 2-core machine `make test` took 216-221 s with 2 workers a run,
# 244 s with 3 and 245-255 s with 4 (the machine is busy from start to end, and more
# processes only add switching: docs/testing.md). Tests are handed out one by one
# (--dist loadfile would lose schemathesis' operations, which share one test id), and a
# worker that runs out takes the rest of a busy worker's queue (worksteal), so a run does
# not end on one worker's last slow tests while the others wait. PYTEST_WORKERS=0 runs
# in-process.
PYTEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); [ $$n -gt 8 ] && n=8; echo $$n)
XDIST = -n $(PYTEST_WORKERS) --dist worksteal

.PHONY: install install-dev run serve test lint collect suites pytest pytest-sqlite browser bench format vendor-softphone

PORT ?= 8000
export PORT

install: $(RUN_STAMP)

install-dev: $(DEV_STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(BIN)/uv: constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt uv
	touch $@

$(RUN_STAMP): pyproject.toml constraints.txt | $(BIN)/uv
	$(UV_INSTALL) -e .
	touch $@

# After the run stamp, so a change to pyproject.toml reinstalls both, in that order.
$(DEV_STAMP): $(RUN_STAMP)
	$(UV_INSTALL) -e ".[dev]"
	touch $@

run: install
	mkdir -p var/broker
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py migrate --noinput
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py seed_demo
	DEBUG=$${DEBUG:-1} PATH="$(abspath $(BIN)):$$PATH" $(BIN)/honcho start -f Procfile -p $(PORT)

# Production settings served locally over plain HTTP: HTTPS redirects and secure-only
# cookies are off unless set; the secret key is the one `make run` keeps under var/.
SERVE_ENV = DJANGO_ENV=$${DJANGO_ENV:-production} \
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} \
	CELERY_BROKER_URL=$${CELERY_BROKER_URL:-redis://127.0.0.1:6379/0} \
	ALLOWED_HOSTS=$${ALLOWED_HOSTS:-127.0.0.1,localhost} \
	SECURE_SSL_REDIRECT=$${SECURE_SSL_REDIRECT:-0} SECURE_COOKIES=$${SECURE_COOKIES:-0} \
	SECRET_KEY=$${SECRET_KEY:-$$(cat var/secret_key)} \
	PATH="$(abspath $(BIN)):$$PATH"

serve: install
	@mkdir -p var
	@test -s var/secret_key || $(BIN)/python -c "import secrets; print(secrets.token_urlsafe(50))" > var/secret_key
	$(SERVE_ENV) sh -c "$$(sed -n 's/^release: //p' Procfile.prod)"
	$(SERVE_ENV) $(BIN)/honcho start -f Procfile.prod -p $(PORT) web worker worker-long beat

# Debian's Chromium drives the browser tests; Playwright cannot download its own here.
browser:
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium)

# The browser softphone's Twilio Voice SDK, vendored in static/ (needs npm; see the script).
vendor-softphone:
	scripts/vendor_twilio_voice_sdk.sh

lint: install-dev
	@echo "== lint"
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

# The whole suite on PostgreSQL with a real broker: browser tests and the schemathesis run
# over the served OpenAPI schema (tests/api/) included.
pytest: install-dev
	@echo "== pytest on PostgreSQL"
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} \
	CELERY_BROKER_URL=$${CELERY_BROKER_URL:-$(TEST_BROKER_URL)} \
	$(BIN)/pytest $(XDIST) $(PYTEST_ARGS)

# The whole suite again on the embedded default `make run` serves: SQLite in a temporary
# directory and kombu's filesystem broker. Only tests marked `postgresql` skip here, and
# .ci/run fails on any other skip.
pytest-sqlite: install-dev
	@echo "== pytest on SQLite"
	@dir=$$(mktemp -d); \
	SWITCHBOARD_VAR_DIR=$$dir DATABASE_URL=sqlite:///$$dir/switchboard.sqlite3 \
	CELERY_BROKER_URL=filesystem:// $(BIN)/pytest -rs $(XDIST) $(PYTEST_ARGS); \
	status=$$?; rm -rf "$$dir"; exit $$status

# First the suite is collected once while lint runs beside it (one core each: mypy is
# single-threaded, and so is the collection): the processes the runs then start at once
# find every module compiled and every test module rewritten by pytest, instead of each
# doing it again (on a fresh clone, 8 collections at once took 136 s of CPU without the
# cache and 59 s with it: docs/testing.md). The two runs start as soon as the collection
# ends, beside whatever is left of lint, and go at once: each alone leaves a core idle
# while its tests wait on browsers, servers and sockets. A lint failure still lets the
# tests run (-k), and fails `make test` after them. --output-sync prints each one's
# output whole when it ends, so .ci/run still finds each run's header and summary (a
# section ends at the next "== ").
test: install-dev browser
	@$(MAKE) --no-print-directory -j3 -k --output-sync=target lint suites

# Both runs, after the collection (for `make test`; each also runs alone).
suites: collect
	@$(MAKE) --no-print-directory -j2 --output-sync=target pytest pytest-sqlite

collect: install-dev
	@$(BIN)/pytest --collect-only -q -p no:cacheprovider >/dev/null 2>&1 || true

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# wrk drives the webhook benchmark from its own process; without it the bench falls back to
# a Python client that takes CPU from the server it measures.
bench: install
	@command -v wrk >/dev/null || (apt-get install -y -qq wrk >/dev/null 2>&1 || echo "wrk not installed: webhooks bench uses its Python client")
	@failed=""; for script in $(BENCH_SCRIPTS); do \
		echo "== $$script $(BENCH_ARGS)"; started=$$(date +%s); \
		DATABASE_URL=$(BENCH_DATABASE_URL) CELERY_BROKER_URL=$(BENCH_BROKER_URL) \
			$(BIN)/python $$script $(BENCH_ARGS) || failed="$$failed $$script"; \
		echo "== $$script: $$(( $$(date +%s) - started )) s"; \
	done; \
	test -z "$$failed" || { echo "== failed:$$failed"; exit 1; }
