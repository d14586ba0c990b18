# Two entry points that work on a fresh machine with Python 3.11: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Compress the shipped sample with the default weights, decompress it, print bpp and PSNR.
demo: $(STAMP)
	mkdir -p demo
	$(BIN)/ibc compress tests/data/sample.png -o demo/sample.ibc --force --verbose
	$(BIN)/ibc decompress demo/sample.ibc -o demo/sample.png --force
	$(BIN)/ibc info demo/sample.ibc

test: $(STAMP)
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) demo
