// Prompt-processing speed of the runtime: tokens/s for one sequence of CTX tokens (logits of
// the last position only, as llama-bench's pp test), through the layer streamer (weights
// streamed from the file on every run, as perplexity and calibration use it) and through the
// resident executor (weights loaded once, KV cache). Token ids are fed directly (the synthetic
// model has no vocabulary).
//
//   bench_forward MODEL.gguf... [--ctx 256,512] [--threads 1,2] [--reps N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "llmq/error.hpp"
#include "llmq/runtime/resident.hpp"
#include "llmq/runtime/streamer.hpp"
#include "posix_io.hpp"
#include "thread_pool.hpp"

namespace {

std::vector<int64_t> parse_list(const std::string& s) {
    std::vector<int64_t> v;
    std::stringstream in(s);
    std::string item;
    while (std::getline(in, item, ',')) v.push_back(std::stoll(item));
    return v;
}

template <class F>
double best_seconds(F&& f, int reps) {
    double best = 1e30;
    for (int r = 0; r < reps; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        f();
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    return best;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace llmq;
    std::vector<std::string> models;
    std::vector<int64_t> ctxs = {256, 512};
    std::vector<int64_t> threads = {1, 2};
    int reps = 2;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--ctx" && i + 1 < argc) {
            ctxs = parse_list(argv[++i]);
        } else if (a == "--threads" && i + 1 < argc) {
            threads = parse_list(argv[++i]);
        } else if (a == "--reps" && i + 1 < argc) {
            reps = std::max(1, std::atoi(argv[++i]));
        } else {
            models.push_back(a);
        }
    }
    if (models.empty()) {
        std::fprintf(stderr, "usage: %s MODEL.gguf... [--ctx 256,512] [--threads 1,2] [--reps N]\n", argv[0]);
        return 2;
    }
    try {
        std::printf("%-34s %5s %7s %14s %14s\n", "model", "ctx", "threads", "streamed t/s", "resident t/s");
        for (const auto& path : models) {
            const ModelView model = open_gguf_model(std::make_shared<native::FileSource>(path));
            const ModelConfig c = model_config(model);
            const std::string name = path.substr(path.find_last_of('/') + 1);
            for (int64_t t : threads) {
                native::ThreadPool pool(static_cast<unsigned>(t));
                const ResidentModel resident(model, pool);
                for (int64_t ctx : ctxs) {
                    // Deterministic ids spread over the vocabulary.
                    std::vector<int32_t> ids(static_cast<size_t>(ctx));
                    uint64_t s = 0x9E3779B97F4A7C15ull;
                    for (auto& id : ids) {
                        s = s * 6364136223846793005ull + 1442695040888963407ull;
                        id = static_cast<int32_t>((s >> 33) % static_cast<uint64_t>(c.n_vocab));
                    }
                    const std::vector<std::vector<int32_t>> seqs = {ids};
                    LayerStreamer streamer(model, pool);
                    float sink = 0.0f;
                    const double streamed = best_seconds(
                        [&] {
                            streamer.run(seqs, {ctx - 1, ctx}, [&](size_t, int64_t, std::span<const float> l) { sink += l[0]; });
                        },
                        reps);
                    const double held = best_seconds(
                        [&] {
                            Session session(resident, ctx);
                            sink += session.eval(ids)[0];
                        },
                        reps);
                    std::printf("%-34s %5lld %7lld %14.1f %14.1f\n", name.c_str(), static_cast<long long>(ctx), static_cast<long long>(t),
                                static_cast<double>(ctx) / streamed, static_cast<double>(ctx) / held);
                    std::fflush(stdout);
                    if (sink == 12345.678f) std::printf(" ");  // keeps the work observable
                }
            }
        }
    } catch (const Failure& f) {
        std::fprintf(stderr, "error: %s\n", f.error().message.c_str());
        return 1;
    }
    return 0;
}
