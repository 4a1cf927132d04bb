PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The portal's browser tests drive the system Chromium (Playwright never downloads a browser).
CHROMIUM := /usr/bin/chromium

.PHONY: install run ocr-languages test test-deps lint format bench clean

$(STAMP): pyproject.toml sdk/python/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m pip install --quiet -e 'sdk/python[cli]'
	# A venv that once installed transformers 5.25 holds the `kernels` distribution, which shadows kernels/.
	$(PY) -m pip uninstall --quiet --yes kernels 2>/dev/null || true
	touch $(STAMP)

install: $(STAMP)

run: install ocr-languages
	$(PY) -m quire.launcher

# Tesseract and the language data of QUIRE_INGEST_OCR_LANGUAGES (eng unless set: "eng+deu" for German too), for
# OCR of scans; installed with apt-get when running as root, else named (the platform runs without them, and
# documents that need OCR fail saying what is missing).
OCR_LANGUAGES := $(subst +, ,$(or $(QUIRE_INGEST_OCR_LANGUAGES),eng))
ocr-languages:
	@missing=""; for code in $(OCR_LANGUAGES); do 	  tesseract --list-langs 2>/dev/null | grep -qx "$$code" || missing="$$missing tesseract-ocr-$$code"; 	done; 	[ -z "$$missing" ] || { 	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then 	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr $$missing; 	  else 	    echo "OCR of scans needs:$$missing; install it with: sudo apt-get install -y tesseract-ocr$$missing" >&2; 	  fi; 	}

# Tests run on up to four pytest-xdist workers, one per core; each has its own database, Redis key prefix,
# media folder and Celery worker (tests/conftest.py). TEST_WORKERS=0 runs them in this one process.
TEST_WORKERS ?= $(shell $(PYTHON) -c 'import os; print(max(1, min(4, len(os.sched_getaffinity(0)))))')

test: install test-deps
	$(PY) -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

# What the tests need besides the venv: Debian's chromium (the portal's browser tests), tesseract-ocr with its
# German data (OCR of scans, in English and German) and the DejaVu fonts (the tests draw scans with umlauts),
# installed with apt-get when running as root.
DEJAVU := /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
test-deps:
	@{ command -v tesseract >/dev/null && tesseract --list-langs 2>/dev/null | grep -qx deu && test -f $(DEJAVU); } || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      tesseract-ocr tesseract-ocr-deu fonts-dejavu-core; \
	  else \
	    echo "make test needs tesseract with its German data, and the DejaVu fonts, for OCR of scans; install them with:" >&2; \
	    echo "  sudo apt-get install -y tesseract-ocr tesseract-ocr-deu fonts-dejavu-core" >&2; \
	    exit 1; \
	  fi; \
	}
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else \
	    echo "make test needs $(CHROMIUM) for the portal's browser tests; install it with:" >&2; \
	    echo "  sudo apt-get install -y chromium" >&2; \
	    exit 1; \
	  fi; \
	}

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) .quire
