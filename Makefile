# Front door. `make demo` sets everything up and quantizes the bundled sample model;
# `make test` runs every test. Builds use 2 jobs (the project machine has 2 cores).
JOBS ?= 2
SAMPLE := models/sample/tinyllama-spm.bf16.gguf
LLMQ := build/native/llmq

.PHONY: all deps oracle-deps native test unit-test oracle-test asan demo bench clean format

all: native

deps:
	@bash scripts/install-deps.sh

build/native/build.ninja: CMakeLists.txt CMakePresets.json | deps
	cmake --preset native >/dev/null

native: deps build/native/build.ninja
	cmake --build --preset native -j $(JOBS)

test: unit-test oracle-test

unit-test: native
	ctest --test-dir build/native -j $(JOBS) --output-on-failure

# Independent oracles: llama.cpp (node-llama-cpp) runs our files, @huggingface/gguf parses them.
oracle-deps:
	@cd tests/oracle && [ -d node_modules/node-llama-cpp ] || npm ci --ignore-scripts --no-audit --no-fund

oracle-test: native oracle-deps
	cd tests/oracle && node --test --test-concurrency=1

asan: deps
	cmake --preset debug-asan >/dev/null
	cmake --build --preset debug-asan -j $(JOBS)
	ctest --test-dir build/debug-asan -j $(JOBS) --output-on-failure

demo: native
	@mkdir -p build/demo
	$(LLMQ) inspect $(SAMPLE)
	$(LLMQ) quantize $(SAMPLE) -q Q4_K_M -o build/demo/sample-Q4_K_M.gguf

bench: native
	bash bench/run.sh

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

clean:
	rm -rf build
