# Everything a newcomer needs: `make run` starts the bot, `make test` runs the tests.
# Both set up a virtual environment in .venv from pyproject.toml first.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup run demo test lint format check-migrations clean

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

# Runs on SQLite; set HRBOT_TEST_POSTGRES_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/postgres
# to run every database test on PostgreSQL as well.
test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup check-migrations
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

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
