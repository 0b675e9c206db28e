// Calibration speed and memory of `llmq analyze`'s layer-streamed pass: embeds SAMPLES
// sequences of CTX pseudo-random token ids, runs every layer with the imatrix accumulator and
// block influence observing (as the analyze job does), and writes the imatrix to memory.
// Prints tokens/s and peak RSS for one model per process, so a script can show how peak memory
// grows with model size (it should not: one layer + the hidden states).
//
//   bench_analyze MODEL.gguf [--samples N] [--ctx N] [--threads N]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "llmq/analysis/imatrix_accumulator.hpp"
#include "llmq/analysis/layer_importance.hpp"
#include "llmq/error.hpp"
#include "llmq/io/memory.hpp"
#include "llmq/runtime/streamer.hpp"
#include "native_host.hpp"
#include "posix_io.hpp"
#include "thread_pool.hpp"

int main(int argc, char** argv) {
    using namespace llmq;
    std::string path;
    int64_t samples = 128, ctx = 64;
    unsigned threads = 2;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--samples" && i + 1 < argc) {
            samples = std::atoll(argv[++i]);
        } else if (a == "--ctx" && i + 1 < argc) {
            ctx = std::atoll(argv[++i]);
        } else if (a == "--threads" && i + 1 < argc) {
            threads = static_cast<unsigned>(std::atoi(argv[++i]));
        } else {
            path = a;
        }
    }
    if (path.empty() || samples < 1 || ctx < 1 || threads < 1) {
        std::fprintf(stderr, "usage: %s MODEL.gguf [--samples N] [--ctx N] [--threads N]\n", argv[0]);
        return 2;
    }
    try {
        const ModelView model = open_gguf_model(std::make_shared<native::FileSource>(path));
        native::ThreadPool pool(threads);
        LayerStreamer streamer(model, pool);
        const ModelConfig& c = streamer.config();
        std::vector<std::vector<int32_t>> seqs(static_cast<size_t>(samples), std::vector<int32_t>(static_cast<size_t>(ctx)));
        uint64_t s = 0x9E3779B97F4A7C15ull;
        for (auto& seq : seqs) {
            for (auto& id : seq) {
                s = s * 6364136223846793005ull + 1442695040888963407ull;
                id = static_cast<int32_t>((s >> 33) % static_cast<uint64_t>(c.n_vocab));
            }
        }
        const auto t0 = std::chrono::steady_clock::now();
        ImatrixAccumulator imatrix;
        BlockInfluence influence(c.n_layer);
        StreamState state = streamer.embed(seqs);
        while (state.next_layer < c.n_layer) {
            const int64_t layer = state.next_layer;
            streamer.run_layer(state, &imatrix,
                               [&](std::span<const float> before, std::span<const float> after) { influence.add(layer, before, after, c.n_embd); });
        }
        MemorySink sink;
        write_imatrix_gguf(sink, imatrix.sums({"bench"}, static_cast<uint32_t>(samples), static_cast<uint32_t>(ctx)));
        sink.finish();
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const double tokens = static_cast<double>(samples * ctx);
        const std::string name = path.substr(path.find_last_of('/') + 1);
        std::printf("%-36s %9.1f %6lld %8.0f %10.1f %8.2f %10.1f %12.1f\n", name.c_str(), static_cast<double>(model.source_bytes) / 1e6,
                    static_cast<long long>(c.n_layer), tokens, static_cast<double>(state.hidden.size() * sizeof(float)) / 1e6, seconds,
                    tokens / seconds, static_cast<double>(native::peak_rss_bytes()) / 1e6);
    } catch (const Failure& f) {
        std::fprintf(stderr, "error: %s\n", f.error().message.c_str());
        return 1;
    }
    return 0;
}
