# torch_ext: `make test` runs every test, `make demo` runs the main job. Each sets itself up:
# a .venv with the pinned requirements, the op library and Python module, the C++ tests.

PYTHON      ?= python3
VENV        ?= .venv
# The torch of the development venv: the whole suite runs against it. 2.11.0 is the oldest supported
# release and the GPU machine's; its PyPI build uses CUDA 13.0, nvcc's major version here. test-torch-range
# builds and tests against the newest supported one (README: "Supported torch").
TORCH_VERSION        ?= 2.11.0
TORCH_VERSION_NEWEST ?= 2.15.0
PY          := $(VENV)/bin/python
BUILD       := build
CMAKE_BUILD := $(BUILD)/cmake
JOBS        ?= $(shell nproc 2>/dev/null || echo 2)
export MAX_JOBS ?= $(JOBS)
export PATH := $(abspath $(VENV))/bin:$(PATH)

SOURCES := $(shell find csrc tests/cpp cmake examples -type f 2>/dev/null) setup.py pyproject.toml CMakeLists.txt

.PHONY: all build test test-python test-cpp sanitize test-torch-range demo clean

all: build

$(VENV)/.requirements: requirements.txt scripts/setup.sh Makefile
	bash scripts/setup.sh $(PYTHON) $(VENV) $(TORCH_VERSION)
	touch $@

# One CMake build of the kernels serves Python (torch_ext._C links it) and C++ (ctest).
# NB: the stamp takes the time the build started, so a source edited during the build is rebuilt next time.
$(BUILD)/.built: $(VENV)/.requirements $(SOURCES)
	@mkdir -p $(BUILD) && touch $@.started
	$(PY) -m pip install --no-build-isolation --no-deps -q -e .
	cmake --build $(CMAKE_BUILD) -j $(JOBS)
	mv $@.started $@

build: $(BUILD)/.built

test: build
	$(MAKE) --no-print-directory test-python test-cpp sanitize test-torch-range

test-python:
	$(PY) -m pytest tests -n $(JOBS) -q -p no:cacheprovider

test-cpp:
	cd $(CMAKE_BUILD) && ctest --output-on-failure -j $(JOBS)

# The C++ library and GoogleTest suite again, with AddressSanitizer, LeakSanitizer and UBSan (CPU kernels).
sanitize: $(VENV)/.requirements
	bash scripts/sanitize.sh $(VENV) $(BUILD)/sanitize

# The other end of the supported torch range: its own venv and a copy of the sources built against torch
# TORCH_VERSION_NEWEST (CPU and CUDA kernels), then pytest and ctest there, and the packaging checks.
test-torch-range:
	bash scripts/torch_range.sh $(PYTHON) $(TORCH_VERSION_NEWEST) $(BUILD)/torch-$(TORCH_VERSION_NEWEST)

# Trains a torch_ext classifier on the 8x8 digits, prints the validation report, runs the trained model
# from C++ (examples/run_model: TorchScript and AOTInductor) on the test set, compares the activations (a
# small MLP trained once per activation), and plots into build/demo.
demo: build
	$(PY) -m torch_ext.demo --out $(BUILD)/demo --run-model $(CMAKE_BUILD)/examples/run_model/run_model

clean:
	rm -rf $(BUILD) torch_ext/lib torch_ext/_C*.so
