# Gridwall: `make run` (the live demo) and `make test` do all set-up on a fresh machine.
PY := .venv/bin/python
PIP := .venv/bin/pip
STAMP := .venv/.installed

.PHONY: run run-prod test bench loadtest lint format district clean

$(STAMP): requirements.txt
	test -x $(PY) || python3 -m venv .venv
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements.txt
	touch $(STAMP)

run: $(STAMP)
	$(PY) app.py run

# Several web processes (gunicorn, one port, pushes through Redis) and consumer processes.
run-prod: $(STAMP)
	WEB_WORKERS=$${WEB_WORKERS:-4} CONSUMER_PROCS=$${CONSUMER_PROCS:-3} $(PY) app.py run

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest -n 2 --dist loadfile -q

bench: $(STAMP)
	$(PY) -m bench

loadtest: $(STAMP)
	$(PY) -m bench.loadtest

lint: $(STAMP)
	$(PY) -m ruff check .

format: $(STAMP)
	$(PY) -m ruff format .

district: $(STAMP)
	$(PY) scripts/gen_district.py

clean:
	rm -rf var .pytest_cache
