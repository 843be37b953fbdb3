# Everything a newcomer needs: `make run` starts the bot, `make test` runs the tests.
# Both set up a virtual environment in .venv from pyproject.toml first.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup browser run demo test lint format check-migrations messages compile check-catalogues \
	language clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

run: setup
	$(BIN)/hrbot run

# A whole journey against a local Telegram emulator: no token, no configuration.
demo: setup
	$(BIN)/hrbot demo

# Chromium for the browser tests (tests/web), Debian's package: installed when missing, and only
# where that can be done without asking (root with apt-get: CI, containers). Anywhere else it
# does nothing and the browser tests are skipped with the reason (failed when CI=true).
CHROMIUM ?= $(or $(HRBOT_CHROMIUM),/usr/bin/chromium)
browser:
	@if [ ! -x "$(CHROMIUM)" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing chromium (Debian's package) for the browser tests"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -qq chromium >/dev/null 2>&1 \
	        || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } \
	        || echo "could not install chromium: the browser tests will say why they skip"; \
	fi

# Runs on SQLite; set HRBOT_TEST_POSTGRES_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/postgres
# to run every database test on PostgreSQL as well.
test: setup browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup check-migrations check-catalogues
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Fails when the models and the migrations disagree.
check-migrations: setup
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && \
	HRBOT_DATABASE_URL=sqlite+aiosqlite:///$$tmp/check.sqlite3 HRBOT_DATA_DIR=$$tmp \
	  $(BIN)/alembic upgrade head && \
	HRBOT_DATABASE_URL=sqlite+aiosqlite:///$$tmp/check.sqlite3 HRBOT_DATA_DIR=$$tmp \
	  $(BIN)/alembic check

# Translations (content/locales): extract every string from the code and content/*.yaml into
# hrbot.pot and update each language's .po; compile .mo files (optional: the bot reads .po);
# fail on anything a translator still has to do; start a new language (LOCALE=ps).
messages: setup
	$(BIN)/python -m bot.i18n messages

compile: setup
	$(BIN)/python -m bot.i18n compile

check-catalogues: setup
	$(BIN)/python -m bot.i18n check

language: setup
	@test -n "$(LOCALE)" || { echo "usage: make language LOCALE=ps"; exit 2; }
	$(BIN)/python -m bot.i18n init $(LOCALE)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
