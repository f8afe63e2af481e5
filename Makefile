PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
OUT ?= outputs

.PHONY: install test test-slow test-all fuzz smoke demo bench bench-simulate bench-ude bench-pinn bench-cable bench-sweeps bench-startup bench-runs bench-discover bench-recordings bench-pinn-cable bench-suite clean

$(BIN)/neurocli: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/python -m compileall -q neurocli  # bytecode as an installed package has it (PYTHONDONTWRITEBYTECODE images)
	@touch $@

install: $(BIN)/neurocli  ## create .venv and install neurocli with its test dependencies (and the tracking extra)

test: install  ## the suite on CPU without the tests marked slow (minutes), one pytest-xdist worker per core
	$(BIN)/pytest -q -n auto --dist worksteal -m "not slow"

test-slow: install  ## only the tests marked slow: long end-to-end runs, real processes, duplicate guards
	$(BIN)/pytest -q -n auto --dist worksteal -m slow

test-all: test test-slow  ## both, as .ci/run runs them

fuzz: install  ## the property-based fuzz test with many examples (minutes); `make test` runs a few
	HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest -q tests/test_fuzz.py

smoke: install  ## each subcommand on a tiny config, seconds each
	$(BIN)/neurocli simulate --config configs/smoke_simulate.yaml --output-root $(OUT)
	$(BIN)/neurocli discover "$$($(BIN)/neurocli train-ude --config configs/ude_smoke.yaml --output-root $(OUT) | tail -1)" \
	  --output-root $(OUT) --set regression.max_terms=1 --set refit.iterations=3
	$(BIN)/neurocli train-pinn --config configs/pinn_smoke.yaml --output-root $(OUT)

demo: install  ## the shipped default configs
	$(BIN)/neurocli simulate --config configs/hh_pulse.yaml --output-root $(OUT)
	$(BIN)/neurocli simulate --config configs/hh_reduced_seed.yaml --output-root $(OUT)
	$(BIN)/neurocli simulate --config configs/fhn.yaml --output-root $(OUT)
	$(BIN)/neurocli simulate --config configs/hh_fi_curve.yaml --output-root $(OUT)
	$(BIN)/neurocli simulate --config configs/reaction_diffusion.yaml --output-root $(OUT)
	$(BIN)/neurocli simulate --config configs/hh_cable.yaml --output-root $(OUT)
	$(BIN)/neurocli simulate --config configs/hh_fi_map.yaml --output-root $(OUT)
	$(BIN)/neurocli simulate --config configs/cable_velocity_map.yaml --output-root $(OUT)
	$(BIN)/neurocli discover "$$($(BIN)/neurocli train-ude --config configs/ude_reduced_hh.yaml --output-root $(OUT) | tail -1)" \
	  --output-root $(OUT)
	$(BIN)/neurocli train-ude --config configs/ude_seeds.yaml --output-root $(OUT)
	$(BIN)/neurocli train-pinn --config configs/a_sweep.yaml --output-root $(OUT)
	$(BIN)/neurocli train-pinn --config configs/pinn_a_k_map.yaml --output-root $(OUT)

bench: bench-simulate bench-ude bench-pinn bench-cable bench-sweeps bench-startup bench-runs bench-discover bench-recordings bench-pinn-cable  ## all benchmarks -> benchmarks/results/

bench-simulate: install
	$(BIN)/python benchmarks/bench_simulate.py

bench-ude: install
	$(BIN)/python benchmarks/bench_ude.py

bench-pinn: install
	$(BIN)/python benchmarks/bench_pinn.py

bench-cable: install
	$(BIN)/python benchmarks/bench_cable.py

bench-sweeps: install  ## a 10^5-member f–I map; 10^4: chunks, memory, one vs two processes; vs jaxley
	$(BIN)/python benchmarks/bench_sweeps.py
	$(BIN)/python benchmarks/bench_sweeps_jaxley.py   # needs JAXLEY_PYTHON (a venv with jaxley); skipped otherwise

bench-discover: install  ## train-ude then discover: the recovered forms, g, E and SSEs
	$(BIN)/python benchmarks/bench_discover.py

bench-startup: install  ## process start-up times (BENCH_NEURON_PYTHON=a python with neuron, optional)
	$(BIN)/python benchmarks/bench_startup.py

bench-runs: install  ## `neurocli runs` on 10^4 synthetic run directories
	$(BIN)/python benchmarks/bench_runs.py

clean:
	rm -rf $(VENV) .pytest_cache

bench-recordings: install  ## train-ude on recordings: conductances and I_Na from V only (issue 19)
	$(BIN)/python benchmarks/bench_recordings.py

bench-pinn-cable: install  ## PINNs of the FitzHugh–Nagumo and HH cables against simulate (issue 22), tens of minutes
	$(BIN)/python benchmarks/bench_pinn_cable.py

bench-suite: install  ## where `make test`'s time goes: compile, trace and lowering time per test module, empty cache
	$(BIN)/python benchmarks/suite_profile.py
