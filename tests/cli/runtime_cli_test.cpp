// End-to-end: `llmq perplexity` and `llmq generate` on the fixture models.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>

#include "support/cli_json.hpp"
#include "support/run_cli.hpp"

namespace llmq {
namespace {

using nlohmann::json;
using test::parse_json;

const std::string kLlama = test::fixture("models/tinyllama-spm.bf16.gguf").string();
const std::string kQwen = test::fixture("models/tinyqwen-bpe.bf16.gguf").string();
const std::string kTrain = test::fixture("text/tinystories_train.txt").string();
const std::string kHeldOut = test::fixture("text/tinystories_heldout.txt").string();

const json& reference() {
    static const json ref = [] {
        const auto bytes = test::read_file(test::fixture("models/reference-outputs.json"));
        return json::parse(bytes.begin(), bytes.end());
    }();
    return ref;
}

TEST(RuntimeCli, PerplexityPrintsLlamaCppsFinalEstimate) {
    // reference §6: llama-perplexity gives 5.1051 +/- 0.32829 here.
    const auto r = test::run_llmq({"perplexity", kLlama, "-f", kTrain, "--ctx", "256", "--chunks", "20"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(r.err, m, std::regex(R"(Final estimate: PPL = (\d+\.\d{4}) \+/- (\d+\.\d{5}))"))) << r.err;
    EXPECT_NEAR(std::stod(m[1]) / 5.1051, 1.0, 0.005);
    EXPECT_NEAR(std::stod(m[2]) / 0.32829, 1.0, 0.01);
    EXPECT_TRUE(r.out.empty());
}

TEST(RuntimeCli, PerplexityJsonAndThreadIndependence) {
    const auto one = test::run_llmq({"perplexity", kQwen, "-f", kHeldOut, "-c", "128", "--chunks", "6", "--format", "json", "-t", "1"});
    const auto two = test::run_llmq({"perplexity", kQwen, "-f", kHeldOut, "-c", "128", "--chunks", "6", "--format", "json", "-t", "2"});
    ASSERT_EQ(one.exit_code, 0) << one.err;
    ASSERT_EQ(two.exit_code, 0) << two.err;
    const json a = parse_json(one), b = parse_json(two);
    EXPECT_EQ(a["status"], "success");
    EXPECT_EQ(a["ctx"], 128);
    EXPECT_EQ(a["chunks"], 6);
    EXPECT_EQ(a["scored_tokens"], 6 * 63);
    EXPECT_EQ(a["bos_at_chunk_start"], false);  // the gpt2 vocabulary adds no BOS
    EXPECT_EQ(a["chunk_perplexities"].size(), 6u);
    EXPECT_TRUE(a["kld"].is_null());
    EXPECT_EQ(a["perplexity"], b["perplexity"]);  // bit-identical for any thread count
    EXPECT_EQ(a["chunk_perplexities"], b["chunk_perplexities"]);
    // All chunks by default: 12367 tokens (with BOS) make 48 chunks of 256.
    const json all = parse_json(test::run_llmq({"perplexity", kLlama, "-f", kHeldOut, "--ctx", "256", "--format", "json"}));
    EXPECT_EQ(all["chunks"], 48);
    EXPECT_EQ(all["tokens"], 12367);
    EXPECT_EQ(all["bos_at_chunk_start"], true);
}

TEST(RuntimeCli, HuggingFaceDirectoryGivesTheGgufNumbers) {
    for (const char* name : {"tinyllama-spm", "tinyqwen-bpe"}) {
        const std::string dir = test::fixture(std::string("models/") + name).string();
        const std::string gguf = test::fixture(std::string("models/") + name + ".bf16.gguf").string();
        const std::vector<std::string> opts = {"-f", kTrain, "--ctx", "128", "--chunks", "4", "--format", "json"};
        auto args = [&](const std::string& model) {
            std::vector<std::string> a = {"perplexity", model};
            a.insert(a.end(), opts.begin(), opts.end());
            return a;
        };
        const json from_dir = parse_json(test::run_llmq(args(dir))), from_gguf = parse_json(test::run_llmq(args(gguf)));
        EXPECT_EQ(from_dir["perplexity"], from_gguf["perplexity"]) << name;
        EXPECT_EQ(from_dir["tokens"], from_gguf["tokens"]) << name;
    }
}

TEST(RuntimeCli, PerplexityWithKldBase) {
    const auto dir = test::temp_dir("rt-cli-kld");
    const std::string q = (dir / "q4.gguf").string();
    ASSERT_EQ(test::run_llmq({"quantize", kLlama, "-q", "Q4_K_M", "-o", q, "--quiet"}).exit_code, 0);
    const auto r = test::run_llmq({"perplexity", q, "-f", kTrain, "--ctx", "256", "--chunks", "4", "--kld-base", kLlama});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (const char* line : {"Final estimate: PPL = ", "Mean PPL(base)", "Mean    KLD:", "99.0%   KLD", "Same top p:", "RMS Δp"}) {
        EXPECT_NE(r.err.find(line), std::string::npos) << line << "\n" << r.err;
    }
    const json j =
        parse_json(test::run_llmq({"perplexity", q, "-f", kTrain, "--ctx", "256", "--chunks", "4", "--kld-base", kLlama, "--format", "json"}));
    ASSERT_TRUE(j["kld"].is_object());
    EXPECT_EQ(j["kld"]["tokens"], 4 * 127);
    EXPECT_GT(j["kld"]["kld"]["mean"].get<double>(), 0.0);
    EXPECT_GT(j["kld"]["top1_agreement"].get<double>(), 0.5);
    EXPECT_EQ(j["kld_base_path"], kLlama);
    // Models with different vocabularies cannot be compared.
    EXPECT_EQ(test::run_llmq({"perplexity", kQwen, "-f", kTrain, "--ctx", "256", "--chunks", "2", "--kld-base", kLlama}).exit_code, 2);
}

// Without -f the bundled WikiText-2 text is used: the same numbers as naming it explicitly.
TEST(RuntimeCli, PerplexityDefaultsToBundledWikitext) {
    const std::string wiki = std::string(LLMQ_SOURCE_DIR) + "/data/wikitext-2-test.raw";
    const auto implicit = test::run_llmq({"perplexity", kLlama, "--ctx", "128", "--chunks", "2", "--format", "json"});
    ASSERT_EQ(implicit.exit_code, 0) << implicit.err;
    const auto explicit_ = test::run_llmq({"perplexity", kLlama, "-f", wiki, "--ctx", "128", "--chunks", "2", "--format", "json"});
    ASSERT_EQ(explicit_.exit_code, 0) << explicit_.err;
    EXPECT_EQ(parse_json(implicit)["ppl"], parse_json(explicit_)["ppl"]);
    EXPECT_NE(parse_json(implicit)["text_path"].get<std::string>().find("wikitext-2-test.raw"), std::string::npos);
}

TEST(RuntimeCli, PerplexityErrors) {
    auto r = test::run_llmq({"perplexity", kLlama, "-f", kHeldOut, "--ctx", "10000", "--format", "json"});
    EXPECT_EQ(r.exit_code, 15);
    EXPECT_EQ(parse_json(r)["error_code"], 15);
    EXPECT_EQ(test::run_llmq({"perplexity", kLlama, "-f", "/nonexistent.txt"}).exit_code, 15);
    EXPECT_EQ(test::run_llmq({"perplexity", kLlama, "-f", kHeldOut, "--ctx", "abc"}).exit_code, 2);
    EXPECT_EQ(test::run_llmq({"perplexity", "/nonexistent.gguf", "-f", kHeldOut}).exit_code, 3);
    EXPECT_EQ(test::run_llmq({"perplexity", kLlama, "-f", kHeldOut, "--bogus"}).exit_code, 2);
}

TEST(RuntimeCli, GenerateGreedyContinuesLikeTransformers) {
    for (const auto& [path, name] : {std::pair{kLlama, "tinyllama-spm"}, std::pair{kQwen, "tinyqwen-bpe"}}) {
        const json& prompt = reference()[name]["prompts"][0];
        const std::string text = prompt["text"];
        const auto r = test::run_llmq({"generate", path, "-p", text, "-n", "32", "--format", "json"});
        ASSERT_EQ(r.exit_code, 0) << r.err;
        const json j = parse_json(r);
        EXPECT_EQ(j["prompt_tokens"], prompt["ids"]) << name;  // BOS exactly where the vocabulary adds it
        EXPECT_EQ(j["tokens"], prompt["greedy_ids"]) << name;
        EXPECT_EQ(j["n_generated"], 32);
        EXPECT_EQ(j["stop_reason"], "length");
        // Human output: the text on stdout.
        const auto h = test::run_llmq({"generate", path, "-p", text, "-n", "32"});
        ASSERT_EQ(h.exit_code, 0) << h.err;
        std::string continuation = prompt["greedy_text"];
        if (continuation.front() != ' ') continuation = " " + continuation;
        EXPECT_EQ(h.out, text + continuation + "\n") << name;
        EXPECT_NE(h.err.find("generated 32 tokens"), std::string::npos) << h.err;
    }
}

// The reference run's RoPE frequencies were bfloat16-rounded and it kept going past EOS
// (tinyqwen's 4th continuation holds <|endoftext|>): with --rope-freqs bf16 --ignore-eos all
// eight continuations are the reference's, token for token.
TEST(RuntimeCli, GenerateReproducesEveryReferenceContinuationAsTheReferenceRan) {
    int exact = 0;
    for (const auto& [path, name] : {std::pair{kLlama, "tinyllama-spm"}, std::pair{kQwen, "tinyqwen-bpe"}}) {
        for (const json& prompt : reference()[name]["prompts"]) {
            const auto r =
                test::run_llmq({"generate", path, "-p", prompt["text"], "-n", "32", "--rope-freqs", "bf16", "--ignore-eos", "--format", "json"});
            ASSERT_EQ(r.exit_code, 0) << r.err;
            const json j = parse_json(r);
            EXPECT_EQ(j["rope_freqs"], "bf16");
            EXPECT_EQ(j["prompt_tokens"], prompt["ids"]) << prompt["text"];
            EXPECT_EQ(j["tokens"], prompt["greedy_ids"]) << prompt["text"];
            exact += j["tokens"] == prompt["greedy_ids"];
        }
    }
    EXPECT_EQ(exact, 8);
    // Without --ignore-eos the same run stops at tinyqwen's <|endoftext|> (its 28th token).
    const json& p4 = reference()["tinyqwen-bpe"]["prompts"][3];
    const json stopped = parse_json(test::run_llmq({"generate", kQwen, "-p", p4["text"], "-n", "32", "--rope-freqs", "bf16", "--format", "json"}));
    EXPECT_EQ(stopped["stop_reason"], "eos");
    EXPECT_EQ(stopped["n_generated"], 27);
    // Perplexity in that mode differs from the exact one, slightly.
    const auto args = std::vector<std::string>{"perplexity", kQwen, "-f", kHeldOut, "-c", "128", "--chunks", "2", "--format", "json"};
    auto bf16_args = args;
    bf16_args.insert(bf16_args.end(), {"--rope-freqs", "bf16"});
    const json exact_ppl = parse_json(test::run_llmq(args)), bf16_ppl = parse_json(test::run_llmq(bf16_args));
    EXPECT_EQ(exact_ppl["rope_freqs"], "exact");
    EXPECT_EQ(bf16_ppl["rope_freqs"], "bf16");
    EXPECT_NE(exact_ppl["perplexity"], bf16_ppl["perplexity"]);
    EXPECT_NEAR(exact_ppl["perplexity"].get<double>() / bf16_ppl["perplexity"].get<double>(), 1.0, 1e-3);
}

TEST(RuntimeCli, GenerateSamplingIsSeededAndPortable) {
    auto run = [](const std::string& seed, const std::string& threads) {
        const auto r = test::run_llmq(
            {"generate", kLlama, "-p", "Once upon a time", "-n", "24", "--temp", "0.9", "--seed", seed, "-t", threads, "--format", "json"});
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return parse_json(r)["tokens"];
    };
    const json a = run("7", "1");
    EXPECT_EQ(a, run("7", "2"));
    EXPECT_NE(a, run("8", "1"));
    const json greedy = parse_json(test::run_llmq({"generate", kLlama, "-p", "Once upon a time", "-n", "24", "--format", "json"}))["tokens"];
    EXPECT_NE(a, greedy);
}

TEST(RuntimeCli, GenerateErrorsAndHelp) {
    EXPECT_EQ(test::run_llmq({"generate", kLlama}).exit_code, 2);
    EXPECT_EQ(test::run_llmq({"generate", kLlama, "-p", "x", "--temp", "-1"}).exit_code, 2);
    EXPECT_EQ(test::run_llmq({"generate", kLlama, "-p", "x", "-n", "many"}).exit_code, 2);
    const auto bad_rope = test::run_llmq({"generate", kLlama, "-p", "x", "--rope-freqs", "fp16"});
    EXPECT_EQ(bad_rope.exit_code, 2);
    EXPECT_NE(bad_rope.err.find("use exact (the default) or bf16"), std::string::npos) << bad_rope.err;
    EXPECT_EQ(test::run_llmq({"perplexity", kLlama, "-f", kHeldOut, "--rope-freqs", ""}).exit_code, 2);
    for (const char* command : {"perplexity", "generate"}) {
        const auto h = test::run_llmq({command, "--help"});
        EXPECT_EQ(h.exit_code, 0);
        EXPECT_NE(h.out.find("Examples"), std::string::npos) << command;
    }
    EXPECT_NE(test::run_llmq({"perplexity", "--help"}).out.find("--kld-base"), std::string::npos);
    EXPECT_NE(test::run_llmq({"--help"}).out.find("perplexity MODEL [-f TEXT]"), std::string::npos);
}

}  // namespace
}  // namespace llmq
