# tokenfab: `make demo` and `make test` take a fresh Debian 12 machine from
# clone to running. Both install what is missing, configure, build (Release,
# -Wall -Wextra, warnings are errors) and then do their job.

BUILD_DIR ?= build
JOBS ?= $(shell nproc)
TOKENFAB := $(BUILD_DIR)/src/tokenfab

.PHONY: all deps configure build test demo clean

all: build

deps:
	./scripts/install-deps.sh
	./scripts/install-npm-deps.sh

configure: deps
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DTF_WERROR=ON

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# The suite, then the same suites under ASan+UBSan and TSan, then every
# fuzzer (seeds replayed, then FUZZ_SECONDS of fuzzing each).
FUZZ_SECONDS ?= 45
test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)
	./scripts/sanitize.sh all
	./scripts/fuzz.sh $(FUZZ_SECONDS)

demo: build
	TOKENFAB=$(TOKENFAB) ./scripts/demo.sh

clean:
	rm -rf $(BUILD_DIR)
