# gigcast: `make run` trains on the synthetic default (once) and serves; `make test` checks all.
# Both set up .venv and node_modules themselves; running them again installs nothing new.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
NODE_INSTALLED := node_modules/.installed
SYNTH := data/synthetic/postings.parquet
PROTOS := $(wildcard proto/gigcast/v1/*.proto)

.PHONY: install run test lint proto bench docs clean

install: $(INSTALLED) $(NODE_INSTALLED)

# Editable in compat mode: the project's folder on the path through a plain .pth file. The default
# mode's import finder costs every Python process here ~7 ms of start-up, a gigcast command too.
# A changed Makefile reinstalls an existing .venv, so that a changed recipe is applied.
$(INSTALLED): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,distributed]' --config-settings editable_mode=compat
	touch $@

$(NODE_INSTALLED): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(SYNTH): | $(INSTALLED)
	$(BIN)/gigcast-train synth --out $@

run: install $(SYNTH)
	$(BIN)/gigcast-train run --data $(SYNTH) --if-no-champion
	$(BIN)/gigcast-serve

# Two processes: most of a test's time is one process waiting (a server starting, a poll, a
# child's imports), so the other's tests fill it. A file's tests stay together and in order.
test: lint
	$(BIN)/pytest -n 2 --dist loadfile

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	node_modules/.bin/buf lint

proto: install
	$(BIN)/python -m grpc_tools.protoc -Iproto --python_out=. --pyi_out=. --grpc_python_out=. $(PROTOS)

# The picture of the synthetic market in docs/ingestion.md: fixed end and seed, so it only changes with the code.
docs: docs/market.png

docs/market.png: training/data/synth.py training/plots.py | $(INSTALLED)
	$(BIN)/gigcast-train synth --out build/docs/market.parquet --end 2026-11-22 --seed 7
	$(BIN)/gigcast-train plot build/docs/market.parquet --out $@ --skill ai-video-generation \
		--skill prompt-engineering --skill data-annotation --skill content-writing --skill translation

# Every bench script, then one table of their headline figures beside their baselines.
BENCH_SCRIPTS := $(filter-out bench/summary.py,$(wildcard bench/*.py))

bench: install
	@mkdir -p build && rm -f build/bench.jsonl
	@for script in $(BENCH_SCRIPTS); do echo "== $$script"; \
		GIGCAST_BENCH_SUMMARY=build/bench.jsonl $(BIN)/python $$script || exit 1; done
	@echo "== every figure beside its baseline"
	@$(BIN)/python bench/summary.py build/bench.jsonl

clean:
	rm -rf $(VENV) node_modules build data/synthetic mlflow.db mlruns mlartifacts .pytest_cache .mypy_cache .ruff_cache
