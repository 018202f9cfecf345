# The README's commands. `make demo` and `make test` install what is missing first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup system demo demo-stop test bench clean

setup: system $(VENV)/.installed

system:
	@PYTHON=$(PYTHON) scripts/setup-system.sh

$(VENV)/.installed: pyproject.toml setup.py backends/aliyun_log/_jsonlines.c hubfs/render/_line_count.c  # C extensions
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

demo: setup
	$(BIN)/hubfs demo

demo-stop:
	$(BIN)/hubfs demo --stop

test: setup
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python bench/scrapinghub_items.py
	$(BIN)/python bench/scrapinghub_collections.py
	$(BIN)/python bench/scrapinghub_codecs.py
	$(BIN)/python bench/scrapinghub_walks.py
	$(BIN)/python bench/s3_anchors.py
	$(BIN)/python bench/ds3_bulk.py
	$(BIN)/python bench/aliyun_log_hour.py
	$(BIN)/python bench/aliyun_log_append.py
	$(BIN)/python bench/dask_items.py
	$(BIN)/python bench/flowthings_drops.py

clean:
	rm -rf $(VENV) build *.egg-info backends/aliyun_log/_jsonlines.*.so hubfs/render/_line_count.*.so
