#include "llmq/jobs/generate.hpp"

#include "llmq/error.hpp"
#include "llmq/jobs/inspect.hpp"
#include "llmq/runtime/resident.hpp"
#include "llmq/runtime/sampler.hpp"
#include "llmq/runtime/tokenizer.hpp"

namespace llmq {

nlohmann::json run_generate(const GenerateOptions& o, Host& host) {
    const auto now = [&] { return host.now_seconds ? host.now_seconds() : 0.0; };
    const double t0 = now();
    if (o.max_tokens < 0) fail(ExitCode::Usage, "-n must not be negative");
    if (!(o.temperature >= 0.0)) fail(ExitCode::Usage, "--temp must not be negative");
    const ModelView model = open_model(o.model_path, host);
    const Tokenizer tokenizer = Tokenizer::from_metadata(model);
    // As llama.cpp's completion: BOS where the vocabulary adds it, special tokens in the prompt
    // parsed.
    const std::vector<int32_t> prompt = tokenizer.encode(o.prompt, /*add_special=*/true, /*parse_special=*/true);
    if (prompt.empty()) fail(ExitCode::Usage, "the prompt is empty and the model adds no BOS token", "pass some text with -p");

    SerialFor serial;
    ParallelFor& parallel = host.parallel ? *host.parallel : serial;
    const ResidentModel resident(model, parallel, {.rope_frequencies = o.rope_frequencies});
    Session session(resident, static_cast<int64_t>(prompt.size()) + o.max_tokens);
    Sampler sampler(o.temperature, o.seed);

    Progress* progress = host.progress;
    if (progress) progress->begin("generate", static_cast<uint64_t>(o.max_tokens), ProgressUnit::steps("tokens"));
    const double t_prompt = now();
    std::vector<float> logits = session.eval(prompt);
    const double t_gen = now();
    std::vector<int32_t> generated;
    std::string completion;
    std::string stop_reason = "length";
    while (static_cast<int64_t>(generated.size()) < o.max_tokens) {
        if (progress && progress->cancelled()) fail(ExitCode::Interrupted, "generation interrupted");
        const int32_t next = sampler.next(logits);
        if (next == tokenizer.eos() && !o.ignore_eos) {
            stop_reason = "eos";
            break;
        }
        generated.push_back(next);
        completion += tokenizer.token_piece(next);
        if (progress) progress->update(generated.size(), "");
        if (static_cast<int64_t>(generated.size()) < o.max_tokens) logits = session.eval(std::span<const int32_t>(&next, 1));
    }
    if (progress) progress->end();
    const double t_end = now();

    const double gen_seconds = t_end - t_gen;
    return {{"status", "success"},
            {"model_path", o.model_path},
            {"prompt", o.prompt},
            {"completion", completion},
            {"text", o.prompt + completion},
            {"prompt_tokens", prompt},
            {"tokens", generated},
            {"n_generated", generated.size()},
            {"stop_reason", stop_reason},
            {"temperature", o.temperature},
            {"seed", o.seed},
            {"rope_freqs", rope_frequencies_name(o.rope_frequencies)},
            {"prompt_tokens_per_second", t_gen > t_prompt ? static_cast<double>(prompt.size()) / (t_gen - t_prompt) : 0.0},
            {"tokens_per_second", gen_seconds > 0.0 ? static_cast<double>(generated.size()) / gen_seconds : 0.0},
            {"duration_seconds", t_end - t0}};
}

}  // namespace llmq
