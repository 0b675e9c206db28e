// Single-threaded I-quant / ternary quantization throughput: scalar search kernels vs SIMD ones,
// with an imatrix (the IQ1_S/IQ2_XXS/IQ2_XS quantizers require one). Prints MB/s of f32 input and
// the seconds a whole model would take; exits non-zero unless both paths produce identical bytes.
//   bench_iquants [MiB]                 N(0, 0.02) rows of 4096 (default 4 MiB)
//   bench_iquants --model FILE.gguf     every 2-D weight tensor of a GGUF model (e.g. the
//                                       tinyllama-spm fixture), imatrix = 1 + column index mod 7
//   --types iq1_s,iq2_xxs,...           restrict the types; --simd-only skips the scalar run
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "../core/src/quant/iq_simd_switch.hpp"  // the scalar/SIMD switch (internal to the core)
#include "llmq/error.hpp"
#include "llmq/format/model.hpp"
#include "llmq/quant/codec.hpp"
#include "posix_io.hpp"

namespace {

struct Matrix {
    std::string name;
    int64_t n_per_row = 0;
    std::vector<float> x;
    std::vector<float> imatrix;
};

double cpu_seconds() {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

std::vector<Matrix> synthetic(double mib) {
    Matrix m;
    m.name = "synthetic";
    m.n_per_row = 4096;
    const auto rows = std::max<int64_t>(1, static_cast<int64_t>(mib * 1024 * 1024 / 4) / m.n_per_row);
    m.x.resize(static_cast<size_t>(rows * m.n_per_row));
    std::mt19937 rng(42);
    std::normal_distribution<float> normal(0.0f, 0.02f);
    for (auto& v : m.x) v = normal(rng);
    m.imatrix.resize(static_cast<size_t>(m.n_per_row));
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    for (auto& v : m.imatrix) v = 0.05f + 4 * u(rng) * u(rng);
    return {std::move(m)};
}

std::vector<Matrix> from_model(const std::string& path) {
    const auto model = llmq::open_gguf_model(std::make_shared<llmq::native::FileSource>(path));
    std::vector<Matrix> out;
    for (const auto& t : model.tensors) {
        if (t.n_dims != 2 || t.ne[0] % 256 != 0) continue;
        Matrix m;
        m.name = t.name;
        m.n_per_row = t.ne[0];
        std::vector<uint8_t> raw(t.nbytes());
        t.read_rows(0, t.n_rows(), raw);
        m.x.resize(static_cast<size_t>(t.n_elements()));
        llmq::dequantize(t.type, raw, m.x);
        m.imatrix.resize(static_cast<size_t>(m.n_per_row));
        for (size_t c = 0; c < m.imatrix.size(); ++c) m.imatrix[c] = 1.0f + static_cast<float>(c % 7);
        out.push_back(std::move(m));
    }
    return out;
}

// Quantizes every matrix; returns CPU seconds and the concatenated bytes.
double run(llmq::GgmlType type, const std::vector<Matrix>& ms, std::vector<uint8_t>& bytes) {
    bytes.clear();
    double seconds = 0;
    for (const auto& m : ms) {
        std::vector<uint8_t> out(m.x.size() / static_cast<size_t>(m.n_per_row) * llmq::row_size(type, m.n_per_row));
        const double t0 = cpu_seconds();
        llmq::quantize_rows(type, m.x, out, m.n_per_row, m.imatrix);
        seconds += cpu_seconds() - t0;
        bytes.insert(bytes.end(), out.begin(), out.end());
    }
    return seconds;
}

}  // namespace

int main(int argc, char** argv) try {
    double mib = 4.0;
    std::string model;
    std::string types = "iq1_s,iq1_m,iq2_xxs,iq2_xs,iq2_s,iq3_xxs,iq3_s,iq4_nl,iq4_xs,tq1_0,tq2_0";
    bool simd_only = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--model" && i + 1 < argc) {
            model = argv[++i];
        } else if (a == "--types" && i + 1 < argc) {
            types = argv[++i];
        } else if (a == "--simd-only") {
            simd_only = true;
        } else {
            mib = std::atof(a.c_str());
        }
    }
    const auto ms = model.empty() ? synthetic(mib) : from_model(model);
    size_t elements = 0;
    for (const auto& m : ms) elements += m.x.size();
    const double mb = static_cast<double>(elements) * 4 / 1e6;
    std::printf("%s: %zu matrices, %zu weights (%.1f MB f32), one thread, imatrix on\n", model.empty() ? "synthetic N(0,0.02)" : model.c_str(),
                ms.size(), elements, mb);
    std::printf("%-8s %12s %12s %9s %10s %12s\n", "type", "scalar MB/s", "simd MB/s", "speedup", "simd s", "simd ns/wt");
    int status = 0;
    std::stringstream list(types);
    for (std::string name; std::getline(list, name, ',');) {
        const auto type = llmq::type_from_name(name);
        if (!type) {
            std::fprintf(stderr, "unknown type %s\n", name.c_str());
            return 2;
        }
        // Warm-up: the quantizer's lookup maps are built on first use, outside the timing.
        std::vector<Matrix> first(1);
        first[0] = {ms[0].name, ms[0].n_per_row, std::vector<float>(ms[0].x.begin(), ms[0].x.begin() + ms[0].n_per_row), ms[0].imatrix};
        std::vector<uint8_t> a, b;
        run(*type, first, a);
        double ts = 0;
        if (!simd_only) {
            llmq::quant::set_iquant_simd(false);
            ts = run(*type, ms, a);
        }
        llmq::quant::set_iquant_simd(true);
        const double tv = run(*type, ms, b);
        const bool same = simd_only || a == b;
        if (!same) status = 1;
        std::printf("%-8s %12.2f %12.2f %8.2fx %10.2f %12.1f%s\n", name.c_str(), simd_only ? 0.0 : mb / ts, mb / tv, simd_only ? 0.0 : ts / tv, tv,
                    tv * 1e9 / static_cast<double>(elements), same ? "" : "  MISMATCH");
    }
    return status;
} catch (const llmq::Failure& f) {
    std::fprintf(stderr, "error: %s\n", f.what());
    return 1;
}
