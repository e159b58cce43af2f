# torch_ext: `make test` runs every test, `make demo` runs the main job. Each sets itself up:
# a .venv with the pinned requirements, the op library and Python module, the C++ tests.

PYTHON      ?= python3
VENV        ?= .venv
PY          := $(VENV)/bin/python
BUILD       := build
CMAKE_BUILD := $(BUILD)/cmake
JOBS        ?= $(shell nproc 2>/dev/null || echo 2)
export MAX_JOBS ?= $(JOBS)
export PATH := $(abspath $(VENV))/bin:$(PATH)

SOURCES := $(shell find csrc tests/cpp cmake examples -type f 2>/dev/null) setup.py CMakeLists.txt

.PHONY: all build test test-python test-cpp sanitize demo clean

all: build

$(VENV)/.requirements: requirements.txt scripts/setup.sh
	bash scripts/setup.sh $(PYTHON) $(VENV)
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
	$(MAKE) --no-print-directory test-python test-cpp sanitize

test-python:
	$(PY) -m pytest tests -n $(JOBS) -q -p no:cacheprovider

test-cpp:
	cd $(CMAKE_BUILD) && ctest --output-on-failure -j $(JOBS)

# The C++ library and GoogleTest suite again, with AddressSanitizer, LeakSanitizer and UBSan (CPU kernels).
sanitize: $(VENV)/.requirements
	bash scripts/sanitize.sh $(VENV) $(BUILD)/sanitize

# Trains a torch_ext classifier on the 8x8 digits, prints the validation report, runs the trained model
# from C++ (examples/run_model: TorchScript and AOTInductor) on the test set, and plots into build/demo.
demo: build
	$(PY) -m torch_ext.demo --out $(BUILD)/demo --run-model $(CMAKE_BUILD)/examples/run_model/run_model

clean:
	rm -rf $(BUILD) torch_ext/lib torch_ext/_C*.so
