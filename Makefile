# The two commands of the README: `make demo` and `make test`.
# Both create .venv at the repository root and install every distribution into it.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
OFFICIAL := .venv-official
# The official Polyaxon client, installed in a virtual environment of its own: the test
# suite compares `polyaxon check` verdicts with it, and benchmarks/ times it beside ours.
OFFICIAL_CLIENT ?= polyaxon==2.18.*
# the optimizers' bayes and hyperopt extras (numpy, scipy, hyperopt) are part of the suite
DISTRIBUTIONS := . "plugins/schedulers[test]" "plugins/builders[test]" "plugins/optimizers[bayes,hyperopt,test]" "plugins/stores[s3,gcs,azure,test]" \
	"plugins/notifiers[test]" plugins/hubs "plugins/notebooks[test]" "webapp[test]"
# MLflow, in a virtual environment of its own, for benchmarks/webapp_vs_mlflow.py
MLFLOW_VENV := benchmarks/.work/mlflow-venv
# the web UI's tests drive Debian's chromium through Playwright (never `playwright install`)
CHROMIUM ?= /usr/bin/chromium
# the web UI's JavaScript libraries, installed by npm from webapp/js/package-lock.json
ASSETS := webapp/js
VENDOR := webapp/polyaxon_webapp/static/vendor

.PHONY: install bytecode demo test lint official-client browser buildah nginx assets emulators bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml plugins/*/pyproject.toml webapp/pyproject.toml
	$(BIN)/python -m pip install --quiet $(foreach d,$(DISTRIBUTIONS),-e $(d)) -e ".[dev]"
	# the Compose specification's JSON schema, as docker-compose 1.29 ships it, for the
	# test of deploy/docker-compose.yml (the wheel is read, never installed)
	$(BIN)/python -m pip download --quiet --no-deps --dest $(VENV)/share/compose docker-compose==1.29.2
	touch $@

install: $(VENV)/.installed assets bytecode

# the bytecode of our own packages (installed editable, so pip compiled none of them), and
# again after an edit: where PYTHONDONTWRITEBYTECODE is set, as in many images, every
# `polyaxon` process would otherwise compile them from source
bytecode: $(VENV)/.installed
	$(BIN)/python -m compileall -q polyaxon_core plugins webapp tests benchmarks

# the charts' libraries, exactly as the lock file pins them: plotly.js's lighter bundle
# and uPlot (a run's metric and resource charts)
$(VENDOR)/.built: $(ASSETS)/package.json $(ASSETS)/package-lock.json
	@command -v npm >/dev/null || { echo "npm builds the web UI's chart libraries: install Node.js \
	  and npm (\`apt-get install -y npm\`), then run make again"; exit 1; }
	npm ci --prefix $(ASSETS) --no-audit --no-fund --silent
	mkdir -p $(VENDOR)
	cp $(ASSETS)/node_modules/plotly.js-cartesian-dist-min/plotly-cartesian.min.js \
	  $(ASSETS)/node_modules/uplot/dist/uPlot.iife.min.js \
	  $(ASSETS)/node_modules/uplot/dist/uPlot.min.css $(VENDOR)/
	touch $@

assets: $(VENDOR)/.built

$(OFFICIAL)/.installed:
	$(PYTHON) -m venv $(OFFICIAL)
	$(OFFICIAL)/bin/python -m pip install --quiet "$(OFFICIAL_CLIENT)"
	touch $@

official-client: $(OFFICIAL)/.installed

# Debian's chromium for the browser tests, installed when it is missing; without it the
# browser tests fail (they never skip)
browser:
	@test -x $(CHROMIUM) || { echo "installing chromium for the web UI's browser tests"; \
	  (apt-get install -y -q chromium >/dev/null || \
	   (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null)) || \
	  { echo "could not install chromium: run \`apt-get install -y chromium\` as root"; exit 1; }; }

# buildah for the image builds' tests, with a static busybox (a shell for an image built
# from scratch, offline) and Docker's registry (a real registry to push to, on 127.0.0.1);
# installed when missing, and the build tests fail without them (they never skip)
buildah:
	@test -x /usr/bin/buildah -a -x /bin/busybox -a -x /usr/bin/docker-registry || { \
	  echo "installing buildah, busybox-static and docker-registry for the build tests"; \
	  (apt-get install -y -q buildah busybox-static docker-registry >/dev/null || \
	   (apt-get update -q >/dev/null && \
	    apt-get install -y -q buildah busybox-static docker-registry >/dev/null)) || \
	  { echo "could not install them: run \`apt-get install -y buildah busybox-static \
	  docker-registry\` as root"; exit 1; }; }

# nginx for the gateway's tests and benchmark (`polyaxon gateway`); installed when
# missing (Debian's nginx-light has the auth_request module), and the tests fail without it
nginx:
	@test -x /usr/sbin/nginx || { \
	  echo "installing nginx-light for the gateway's tests"; \
	  (apt-get install -y -q nginx-light >/dev/null || \
	   (apt-get update -q >/dev/null && apt-get install -y -q nginx-light >/dev/null)) || \
	  { echo "could not install nginx: run \`apt-get install -y nginx-light\` as root"; exit 1; }; }

demo: install
	$(BIN)/python examples/quick-start/demo.py

# two workers (pytest-xdist), each taking whole test files so that a file's servers start
# once; most tests wait on processes and servers, so two workers halve the time even on
# two cores. Files are handed out in collection order, the ones with a test marked `slow`
# first (conftest.py), so that no long file runs alone at the end. The slowest tests are
# listed at the end, to keep the suite's time in view.
PYTEST_ARGS ?= -n 2 --dist loadfile --no-loadscope-reorder --durations=15

# Azurite, the Azure Blob Storage emulator of the object stores' tests, from its lock file
EMULATORS := plugins/stores/tests/emulators
$(EMULATORS)/node_modules/.installed: $(EMULATORS)/package.json $(EMULATORS)/package-lock.json
	@command -v npm >/dev/null || { echo "npm installs Azurite for the store tests: install Node.js \
	  and npm (\`apt-get install -y npm\`), then run make again"; exit 1; }
	npm ci --prefix $(EMULATORS) --no-audit --no-fund --silent
	touch $@

emulators: $(EMULATORS)/node_modules/.installed

test: install official-client browser buildah emulators nginx
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy polyaxon_core $(filter-out %.egg-info,$(wildcard plugins/*/polyaxon_*)) webapp/polyaxon_webapp

bench: install official-client nginx
	$(BIN)/python -m pip install --quiet -e "plugins/optimizers[benchmarks]"
	$(BIN)/python benchmarks/cli_startup.py
	$(BIN)/python benchmarks/optimizers_quality.py
	$(BIN)/python benchmarks/optimizers_overhead.py
	$(BIN)/python benchmarks/hyperband_vs_random.py
	test -x $(MLFLOW_VENV)/bin/mlflow || ($(PYTHON) -m venv $(MLFLOW_VENV) && \
	  $(MLFLOW_VENV)/bin/python -m pip install --quiet mlflow)
	$(BIN)/python benchmarks/webapp_vs_mlflow.py
	$(BIN)/python benchmarks/ingest_vs_mlflow.py
	$(BIN)/python benchmarks/dag_vs_floor.py
	$(BIN)/python benchmarks/run_overhead.py
	$(BIN)/python benchmarks/store_throughput.py
	$(BIN)/python benchmarks/sdk_overhead.py
	$(BIN)/python benchmarks/kubernetes_manifests.py
	$(BIN)/python benchmarks/services.py

clean:
	rm -rf $(VENV) $(OFFICIAL) $(ASSETS)/node_modules $(VENDOR) $(EMULATORS)/node_modules
