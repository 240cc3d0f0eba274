# Two entry points: `make run` (the daemon on embedded defaults) and `make test` (everything CI runs).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test quick lint typecheck pytest bench screenshots clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

# Development secrets for `make run` only, made once and kept out of git (var/ is ignored).
var/dev.env:
	mkdir -p var
	$(PYTHON) -c 'import secrets; print(f"VOUCH_API_TOKEN={secrets.token_urlsafe(32)}\nVOUCH_SECRET_KEY={secrets.token_urlsafe(32)}\nVOUCH_DASHBOARD_PASSWORD={secrets.token_urlsafe(18)}")' > $@
	chmod 600 $@
	@echo "made var/dev.env (the admin API token and the /admin password for this machine)"

run: $(BIN)/.installed var/dev.env
	set -a && . ./var/dev.env && set +a && exec $(BIN)/vouch run --config config.toml

lint: $(BIN)/.installed
	$(BIN)/ruff check daemon tests bench
	$(BIN)/ruff format --check daemon tests bench
	$(BIN)/lint-imports --no-cache --no-logo  # the architecture's rules: [tool.importlinter] in pyproject.toml

typecheck: $(BIN)/.installed
	$(BIN)/mypy

# With branch coverage of daemon/ (its floor: fail_under in pyproject.toml), said in one line
# before the test summary, which stays the last line.
pytest: $(BIN)/.installed
	$(BIN)/pytest --cov --cov-report= -n 2 --durations=15  # both cores; the slowest named, to keep the suite short

test: lint typecheck pytest

# The fast tests only (no real daemon, browser, fuzzing or spam filter; pytest's `slow` and
# `browser` marks) on every core, stopping at the first failure: feedback while working.
quick: $(BIN)/.installed
	$(BIN)/pytest -q -x -n auto -m "not slow and not browser"

bench: $(BIN)/.installed
	$(BIN)/python bench/send.py
	$(BIN)/python bench/ingest.py

# docs/dashboard.png and docs/survey-phone.png, from the browser tests (needs /usr/bin/chromium)
screenshots: $(BIN)/.installed
	VOUCH_SCREENSHOTS=docs $(BIN)/pytest -q tests/test_dashboard_browser.py tests/test_thanks_browser.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
