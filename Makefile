# Task runner. The README names two commands: `make run` (the main job) and `make test` (the tests).
# Both install what they need on a fresh Debian/Ubuntu machine: tshark, SIPp, python3-venv, the Python packages.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
FKS    := $(VENV)/bin/fks
CORPUS := $(wildcard captures/*.pcap captures/*.pcapng)

ALLURE := allure/node_modules/.bin/allure
JOBS   ?= 2

.PHONY: run test setup os-deps audit lint captures record clean conformance report

## run: the main job: the loopback conformance run (every scenario of features/, the offline audit of
## captures/ among them) -> reports/allure-results, the single-file HTML report reports/html/index.html,
## and fks audit of captures/ -> reports/audit.{txt,json,junit.xml}
run: setup $(ALLURE)
	@rm -rf reports/allure-results reports/html
	@$(PY) -m pytest steps -q -n $(JOBS) -p no:cacheprovider --alluredir=reports/allure-results \
	   --junitxml=reports/conformance.junit.xml; rc=$$?; \
	 $(MAKE) --no-print-directory audit report || exit 1; \
	 if [ $$rc -eq 5 ]; then echo "no scenarios collected: failing the run" >&2; exit 1; fi; exit $$rc

## report: the single-file Allure HTML report from reports/allure-results
report: $(ALLURE)
	@$(ALLURE) generate --single-file --clean reports/allure-results -o reports/html >/dev/null
	@echo "report: reports/html/index.html"

## test: the whole test suite (unit, property, rule, capture, corpus, live peers, SIPp, the conformance
## scenarios, the HTML report in headless Chromium); "no tests" is a failure
test: setup $(ALLURE)
	@mkdir -p reports
	@$(PY) -m pytest -q -n $(JOBS) --junitxml=reports/junit.xml; rc=$$?; \
	 if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing the run" >&2; exit 1; fi; exit $$rc

setup: os-deps $(VENV)/.installed

## os-deps: the OS packages of the commands that are missing, and only those (tools/os-deps.sh --dry-run
## prints what it would run; V=1 shows apt's output)
os-deps:
	@PYTHON=$(PYTHON) tools/os-deps.sh

# The Allure command line from the npm registry, at the version package-lock.json pins.
$(ALLURE): allure/package.json allure/package-lock.json
	@cd allure && npm ci --no-audit --no-fund --silent
	@touch $@

$(VENV)/.installed: pyproject.toml
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q -e '.[test]'
	@touch $@

## audit: one fks audit over captures/ writing every report of it: text, JSON (then checked against
## analyzer/schemas/audit.schema.json), JUnit, HTML and Allure results (exit status 1 = some rule failed, which
## the corpus holds on purpose)
audit: setup
	@mkdir -p reports
	@$(FKS) audit $(CORPUS) --jobs 2 --output reports/audit.txt --report json=reports/audit.json \
	   --report junit=reports/audit.junit.xml --report html=reports/audit.html \
	   --report allure=reports/allure-results || [ $$? -eq 1 ]
	@$(PY) -m analyzer.schema reports/audit.json
	@grep '^summary:' reports/audit.txt
	@echo "reports: reports/audit.txt reports/audit.json reports/audit.junit.xml reports/audit.html"

## lint: ruff over the project
lint: setup
	@$(PY) -m ruff check . && $(PY) -m ruff format --check .

## captures: regenerate captures/*.pcap, their expected verdicts and captures/README.md from captures/scenarios.py (written by captures/corpus.py)
captures: setup
	@$(PY) captures/corpus.py

## record: re-record captures/recorded_*.pcapng from the live emulators, one per AS profile (needs root)
record: setup
	@$(PY) captures/record.py

clean:
	rm -rf reports/*.json reports/*.txt reports/*.xml .pytest_cache
