#include "llmq/runtime/resident.hpp"

#include "llmq/error.hpp"
#include "runtime/layer.hpp"
#include "runtime/rope.hpp"

namespace llmq {

ResidentModel::ResidentModel(const ModelView& model, ParallelFor& parallel, ResidentOptions options)
    : config_(model_config(model)), parallel_(parallel), rope_frequencies_(options.rope_frequencies) {
    config_.numerics = options.numerics;
    const uint64_t read_chunk_bytes = options.read_chunk_bytes;
    const ModelTensor* embd = model.find_tensor("token_embd.weight");
    token_embd_ = load_matrix(*embd, read_chunk_bytes);  // model_config checked that it exists
    layers_.reserve(static_cast<size_t>(config_.n_layer));
    for (int64_t l = 0; l < config_.n_layer; ++l) layers_.push_back(load_layer(model, config_, l, read_chunk_bytes));
    if (config_.tied_output) {
        head_.norm = load_output_norm(model, config_);  // the matrix is token_embd_
    } else {
        head_ = load_output(model, config_, read_chunk_bytes);
    }
    rope_factors_ = load_rope_factors(model, config_);
}

ResidentModel::~ResidentModel() = default;

uint64_t ResidentModel::weight_bytes() const {
    uint64_t n = token_embd_.data.size() + head_.output.data.size() + head_.norm.size() * sizeof(float);
    for (const auto& l : layers_) n += l.bytes();
    return n;
}

Session::Session(const ResidentModel& model, int64_t n_ctx) : model_(model), n_ctx_(n_ctx) {
    const ModelConfig& c = model.config_;
    if (n_ctx < 1) fail(ExitCode::Usage, "context size must be at least 1");
    k_cache_.assign(static_cast<size_t>(c.n_layer), std::vector<float>(static_cast<size_t>(n_ctx * c.kv_dim())));
    v_cache_.assign(static_cast<size_t>(c.n_layer), std::vector<float>(static_cast<size_t>(n_ctx * c.v_dim())));
    rope_ = std::make_unique<runtime::RopeTable>(c, model.rope_factors_, model.rope_frequencies_);
    rope_->reserve(n_ctx);
}

Session::~Session() = default;

std::vector<float> Session::eval(std::span<const int32_t> tokens, bool all_logits, MatmulObserver* observer) {
    const ModelConfig& c = model_.config_;
    const int64_t n = static_cast<int64_t>(tokens.size());
    if (n == 0) return {};
    if (n_past_ + n > n_ctx_) {
        fail(ExitCode::Usage, "the context of " + std::to_string(n_ctx_) + " tokens is full (" + std::to_string(n_past_) + " used, " +
                                  std::to_string(n) + " more requested)");
    }
    std::vector<float> hidden(static_cast<size_t>(n * c.n_embd));
    embed_tokens(model_.token_embd_, tokens, hidden);
    runtime::LayerScratch scratch;
    for (int64_t l = 0; l < c.n_layer; ++l) {
        const runtime::Segment seg{0, n, n_past_, k_cache_[static_cast<size_t>(l)].data(), v_cache_[static_cast<size_t>(l)].data()};
        runtime::forward_layer(model_.layers_[static_cast<size_t>(l)], c, *rope_, hidden, n, std::span<const runtime::Segment>(&seg, 1), scratch,
                               model_.parallel_, observer);
    }
    n_past_ += n;

    const int64_t rows = all_logits ? n : 1;
    std::span<const float> x(hidden.data() + (n - rows) * c.n_embd, static_cast<size_t>(rows * c.n_embd));
    std::vector<float> logits(static_cast<size_t>(rows * c.n_vocab)), norm_scratch;
    runtime::forward_output(model_.head_.norm, model_.output_matrix(), c, x, rows, logits, norm_scratch, model_.parallel_, observer);
    return logits;
}

}  // namespace llmq
