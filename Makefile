# netdocs — the two commands: `make demo` (set up, ingest the sample, ask) and `make test`.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
export UV_COMPILE_BYTECODE := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1

.PHONY: setup demo test lint bench clean

$(BIN)/netdocs: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip uv
	$(BIN)/uv pip install -q --python $(BIN)/python -e '.[dev]'
	touch $(BIN)/netdocs

setup: $(BIN)/netdocs

demo: setup
	$(BIN)/netdocs ingest examples/sample-docs --policy examples/tags.yaml
	$(BIN)/netdocs status
	-$(BIN)/netdocs ask "How do I configure a BGP route reflector?" --role network_engineer --policy examples/tags.yaml
	-@$(BIN)/netdocs server status   # the Prefect UI address (the ingest above is a run there)

test: setup
	$(BIN)/python -m pytest -q -rs -n 2 --dist loadfile  # two workers (-rs: why each skip), each with its own PostgreSQL and Prefect harness

lint: setup
	$(BIN)/ruff check netdocs tasks flows deployments tests
	$(BIN)/mypy netdocs tasks flows

# Whole shared corpus, netdocs (both runtimes) vs LlamaIndex, then 5k/20k documents; hours on a
# busy 2-core host. `make bench BENCH_ARGS=--quick` is a two-minute smoke run on the sample.
bench: setup
	$(BIN)/uv pip install -q --python $(BIN)/python -e '.[dev,bench]'
	$(BIN)/python benchmarks/bench_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
