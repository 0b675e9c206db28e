# Sourced by the benchmarks that compare with llama.cpp: sets LLAMA_BIN, the folder holding
# llama-perplexity, llama-quantize and llama-imatrix. Uses $LLAMA_BIN when given; otherwise
# builds them once into build/llama from the llama.cpp source that the node-llama-cpp package
# bundles (tests/oracle, `make oracle-deps`): 10-30 minutes on two cores, then reused.
if [ -z "${LLAMA_BIN:-}" ]; then
  LLAMA_BIN=build/llama/build/bin
  if [ ! -x "$LLAMA_BIN/llama-perplexity" ] || [ ! -x "$LLAMA_BIN/llama-quantize" ] || [ ! -x "$LLAMA_BIN/llama-imatrix" ]; then
    echo "building llama.cpp's tools into build/llama (once) ..." >&2
    make -s oracle-deps >&2
    bundle=tests/oracle/node_modules/node-llama-cpp/llama/gitRelease.bundle
    [ -d build/llama/src ] || git clone -q "$bundle" build/llama/src >&2
    cmake -S build/llama/src -B build/llama/build -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF >/dev/null
    cmake --build build/llama/build -j "${JOBS:-2}" --target llama-perplexity llama-quantize llama-imatrix >/dev/null
  fi
fi
export LD_LIBRARY_PATH="$LLAMA_BIN${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
