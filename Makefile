# SkillVoucher: `make run` serves the app with demo data; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app server.wsgi
PORT ?= 8000
export PORT
# The browser tests drive Debian's chromium through Playwright (never `playwright install`).
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: run test setup setup-dev migrate demo lint serve clean browser redis

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt $(VENV)/.runtime
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

setup: $(VENV)/.runtime
setup-dev: $(VENV)/.dev

migrate: setup
	$(FLASK) db upgrade

demo: migrate
	$(FLASK) seed-demo

serve: setup
	$(BIN)/gunicorn -c deploy/gunicorn.conf.py server.wsgi:app

run: demo serve

lint: setup-dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports

browser:
	@if [ ! -x $(CHROMIUM) ]; then \
	  echo "installing Debian's chromium for the browser tests"; \
	  $(SUDO) apt-get update && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; \
	fi
	@echo "browser: $$($(CHROMIUM) --version 2>/dev/null)"

# The shared rate-limit test needs a Redis on 127.0.0.1:6379: start one (installing Debian's
# redis-server first if missing) when none answers. It keeps nothing on disk.
redis:
	@if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then \
	  command -v redis-server >/dev/null || { $(SUDO) apt-get update && \
	    $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server; }; \
	  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
	    --dir /tmp --logfile /tmp/redis-skillvoucher.log; \
	  for _ in $$(seq 30); do (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null && break; sleep 0.2; done; \
	fi

test: lint browser redis
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
