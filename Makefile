# Front door. `make demo` sets everything up and quantizes the bundled sample model;
# `make test` runs every test. Builds use 2 jobs (the project machine has 2 cores).
JOBS ?= 2
SAMPLE := models/sample/tinyllama-spm.bf16.gguf
LLMQ := build/native/llmq

.PHONY: all deps deps-all oracle-deps native native-all test unit-test oracle-test asan demo bench bench-dynamic bench-quality bench-runtime bench-kld ggml-diff fuzz fuzz-build fuzz-ci clean format \
        wasm web node-stage node-test web-deps web-test bench-wasm

all: native

deps:
	@bash scripts/install-deps.sh native

deps-all:
	@bash scripts/install-deps.sh all

build/native/build.ninja: CMakeLists.txt CMakePresets.json | deps
	cmake --preset native >/dev/null

# The CLI alone (what `make demo` needs); native-all adds the test and benchmark executables.
native: deps build/native/build.ninja
	cmake --build --preset native -j $(JOBS) --target llmq

native-all: deps build/native/build.ninja
	cmake --build --preset native -j $(JOBS)

test: unit-test oracle-test node-test web-test

unit-test: native-all
	ctest --test-dir build/native -j $(JOBS) --output-on-failure

# Independent oracles: llama.cpp (node-llama-cpp) runs our files, @huggingface/gguf parses them.
oracle-deps:
	@cd tests/oracle && [ -d node_modules/node-llama-cpp ] || npm ci --ignore-scripts --no-audit --no-fund

# Opt-in: llmq's quantizers against ggml's own on random blocks (tests/differential). Needs a
# llama.cpp build: LLAMA_SRC (its source) and LLAMA_BUILD (its cmake build, bin/libggml-base.so).
ggml-diff: native-all
	@[ -n "$(LLAMA_SRC)" ] && [ -n "$(LLAMA_BUILD)" ] || { echo "usage: make ggml-diff LLAMA_SRC=DIR LLAMA_BUILD=DIR [DIFF_BLOCKS=N]"; exit 2; }
	$(CXX) -std=c++20 -O2 -ffp-contract=off -I$(LLAMA_SRC)/ggml/include -Icore/include tests/differential/ggml_quant_diff.cpp \
	  build/native/libllmq_core.a -L$(LLAMA_BUILD)/bin -lggml-base -Wl,-rpath,$(abspath $(LLAMA_BUILD))/bin -o build/native/ggml_quant_diff
	build/native/ggml_quant_diff $(DIFF_BLOCKS)

# Fuzzing (Clang's libFuzzer with ASan+UBSan): every parser of untrusted files, FUZZ_SECONDS each,
# with libFuzzer's random seed FUZZ_SEED (FUZZ_ARGS: more run.sh options, e.g. --fresh, --runs N,
# --only REGEX, --budget TARGET=SECONDS, --jobs N). docs/fuzzing.md: campaigns, findings.
FUZZ_SECONDS ?= 60
FUZZ_SEED ?= 1
FUZZ_ARGS ?=
fuzz-build:
	bash scripts/install-deps.sh fuzz
	cmake --preset fuzz >/dev/null
	cmake --build --preset fuzz -j $(JOBS)

fuzz: fuzz-build
	bash tests/fuzz/run.sh $(FUZZ_SECONDS) --seed $(FUZZ_SEED) $(FUZZ_ARGS)

# CI's share (opt-in for now: its clang build of the core, ~5 min on two idle cores, does not fit
# CI's 40 minutes yet; a parser-only fuzz build will): every target from the checked-in seeds and findings alone,
# seed 1 and a fixed number of executions each (fewer for the slow targets), two at a time: no
# clock in it, the same command everywhere. A finding fails the build; the log shows the input
# (base64) and the command that replays it (docs/fuzzing.md).
FUZZ_CI_RUNS ?= 30000
FUZZ_CI_ARGS := --fresh --seed 1 --jobs 2 --runs $(FUZZ_CI_RUNS) \
  --runs hf_config_fuzz=2000 --runs hf_tokenizer_json_fuzz=2000 --runs hf_tokenizer_model_fuzz=2000 \
  --runs safetensors_index_fuzz=10000 --runs tokenizer_spm_fuzz=10000 --runs tokenizer_bpe_fuzz=10000
fuzz-ci: fuzz-build
	bash tests/fuzz/run.sh $(FUZZ_CI_ARGS)

oracle-test: native oracle-deps
	cd tests/oracle && node --test --test-concurrency=1

# WebAssembly: build/wasm/llmq.mjs + llmq.wasm (single-threaded), llmq-mt.mjs + llmq-mt.wasm +
# llmq-mt.worker.js (threaded, docs/wasm-threads.md) and the JS adapters (Debian's Emscripten).
build/wasm/build.ninja: CMakeLists.txt CMakePresets.json | deps-all
	cmake --preset wasm >/dev/null

wasm: deps-all build/wasm/build.ninja
	cmake --build --preset wasm -j $(JOBS)

# The static page: build/web/ (deployable as is) with the module under build/web/wasm/ and the
# default calibration text (WikiText-2, for the Analyze step) under build/web/data/.
WEB_SOURCES := $(wildcard web/*.html web/*.mjs web/*.css)
WASM_FOR_WEB := llmq.mjs llmq.wasm llmq-mt.mjs llmq-mt.wasm llmq-mt.worker.js llmq-core.mjs llmq-errors.mjs blob-files.mjs opfs-files.mjs
web: wasm
	@rm -rf build/web && mkdir -p build/web/wasm build/web/data
	cp $(WEB_SOURCES) build/web/
	cp $(addprefix build/wasm/,$(WASM_FOR_WEB)) build/web/wasm/
	cp data/wikitext-2-test.raw data/README.md build/web/data/
	cp data/report.css build/web/report.css

# The npm package (node/) takes the module and the page from build/ (also its `npm pack` step).
node-stage: wasm web
	node node/scripts/stage.mjs

# Node: the CLI and API against the native CLI (byte-identical outputs, same messages), npm pack.
node-test: native-all node-stage
	cd node && node --test --test-concurrency=1 test/

web-deps:
	@cd web/test && [ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund

# Chromium (headless, Debian's) runs the page end to end.
web-test: native-all node-stage web-deps
	cd web/test && node --test --test-concurrency=1

bench-wasm: native-all node-stage
	node bench/wasm_vs_native.mjs $(BENCH_ARGS)
	node bench/runtime_speed.mjs

asan: deps
	cmake --preset debug-asan >/dev/null
	cmake --build --preset debug-asan -j $(JOBS)
	ctest --test-dir build/debug-asan -j $(JOBS) --output-on-failure

demo: native
	@mkdir -p build/demo
	$(LLMQ) inspect $(SAMPLE)
	$(LLMQ) quantize $(SAMPLE) -q Q4_K_M -o build/demo/sample-Q4_K_M.gguf

bench: native-all
	bash bench/run.sh

# Dynamic quantization of the 1.1B-shaped model: measuring pass, re-solve, whole run vs Q4_K_M.
bench-quality: native-all
	bash bench/quality.sh

bench-dynamic: native-all
	bash bench/dynamic.sh

# The runtime against llama.cpp's llama-perplexity (LLAMA_BIN=DIR reuses a build of its tools).
bench-runtime: native-all
	bash bench/perplexity_vs_llama.sh

bench-kld: native-all
	LLAMA_BIN=$(LLAMA_BIN) bash bench/kld_vs_llama.sh

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

clean:
	rm -rf build
