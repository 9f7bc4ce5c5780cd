# Two commands set everything up on a fresh machine:
#   make demo   create .venv, install, run the demo on the built-in synthetic scene
#   make test   create .venv, install, run lint, format check and the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
RUN    ?= runs/demo

.PHONY: demo test lint venv clean browser

$(BIN)/video-anomaly: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch pinned explicitly first: an unpinned torch would pull a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

venv: $(BIN)/video-anomaly

demo: venv
	$(BIN)/video-anomaly demo --out $(RUN)

lint: venv
	$(BIN)/ruff check src tests scripts
	$(BIN)/ruff format --check src tests scripts
	# the layer contracts of pyproject.toml [tool.importlinter] (docs/architecture.md)
	$(BIN)/lint-imports

# Debian packages some tests use: headless Chromium (the HTML report's and serve's browser tests; chromium-driver
# for Selenium), mosquitto (serve's MQTT broker) and PostgreSQL (serve's event store). Installed when we can (root
# on Debian); otherwise those tests skip with their reason.
TEST_DEBS = chromium chromium-driver mosquitto postgresql
browser:
	@dpkg -s $(TEST_DEBS) >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(TEST_DEBS) >/dev/null) || \
		echo "$(TEST_DEBS): not all installed: the tests that need them will skip"; }

test: lint browser
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
