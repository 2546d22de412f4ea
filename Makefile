# tokenfab: `make demo` and `make test` take a fresh Debian 12 machine from
# clone to running. Both install what is missing, configure, build (Release,
# -Wall -Wextra, warnings are errors) and then do their job.

BUILD_DIR ?= build
JOBS ?= $(shell nproc)
TOKENFAB := $(BUILD_DIR)/src/tokenfab
DEMO_MODEL := models/tiny-q8_0.gguf

.PHONY: all deps configure build test demo clean

all: build

deps:
	./scripts/install-deps.sh

configure: deps
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DTF_WERROR=ON

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

$(DEMO_MODEL): | build
	mkdir -p models
	$(TOKENFAB) synth --preset tiny --type q8_0 -o $(DEMO_MODEL)

demo: build $(DEMO_MODEL)
	$(TOKENFAB) generate -m $(DEMO_MODEL) -p "Once upon a time" -n 64 --seed 42

clean:
	rm -rf $(BUILD_DIR)
