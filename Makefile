# Two entry points: `make run` (the server) and `make test` (the whole suite). Both set up what they need.
.PHONY: setup images web run test test-fast bench soak lint clean

VENV := .venv
PY := $(VENV)/bin/python

setup:
	scripts/bootstrap

images: setup
	$(PY) -m runner.sandbox.images build

web:
	scripts/build-web

run: setup web
	$(VENV)/bin/decode-runner serve

test:
	scripts/bootstrap --browser --postgres --php --haproxy
	scripts/build-web
	$(PY) -m pytest
	$(VENV)/bin/decode-runner validate exercises/

# Pure units only: no Docker, no browser (seconds).
test-fast:
	scripts/bootstrap --no-images
	$(PY) -m pytest -m "not docker and not browser and not postgres and not server"

# The single-node figures (bench/results/bench.json), then the cluster row: 2 nodes against 1
# behind HAProxy, with the sizing figures of docs/deployment.md (bench/results/cluster.json).
bench: setup web
	scripts/bootstrap --postgres --haproxy --no-images
	$(PY) -m bench; status=$$?; $(PY) -m bench.cluster || exit 1; exit $$status

# Ten minutes at moderate load with hostile clients mixed in: RSS, fds, containers (not in test).
soak: setup
	$(PY) -m bench.soak

.PHONY: seed-demo bench-dashboard cluster cluster-stop

# PostgreSQL, 2 runner nodes and HAProxy on loopback (docs/deployment.md); prints the URL.
cluster: setup web
	scripts/bootstrap --postgres --haproxy --no-images
	$(VENV)/bin/decode-runner cluster up

cluster-stop:
	$(VENV)/bin/decode-runner cluster down

# A MOOC-sized dataset (12,000 learners, ~6.2 M attempts) in DECODE_DATABASE_URL, or data/demo.sqlite3.
seed-demo: setup
	$(PY) -m bench.seed_demo

# The trainer's pages on that scale, on SQLite and PostgreSQL: bench/results/dashboard.json (~25 min).
bench-dashboard: setup
	$(PY) -m bench.dashboard

lint:
	$(VENV)/bin/ruff check runner tests bench
	$(VENV)/bin/ruff format --check runner tests bench
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) web/node_modules web/dist data test-artifacts
