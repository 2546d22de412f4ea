// The tokenfab binary, run for real: the external contract of each command
// and one clear "error:" line (never a crash) for bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/fixtures.h"

namespace tf {
namespace {

struct RunResult {
  int exit_code = -1;
  bool crashed = false;
  std::string out;
  std::string err;
};

RunResult RunTokenfab(const std::string& args) {
  const std::string err_path = testing::TempPath("tokenfab_stderr.txt");
  const std::string cmd = std::string(TOKENFAB_BIN) + " " + args + " 2>" + err_path;
  RunResult r;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(pipe);
  r.crashed = WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) >= 128);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = testing::ReadFile(err_path);
  return r;
}

std::string Fixture(const std::string& rel) { return testing::FixturePath(rel); }

void ExpectCleanError(const RunResult& r, const std::string& needle) {
  EXPECT_FALSE(r.crashed) << r.err;
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line expected: " << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
}

TEST(CliTest, TokenizeCasesReproducesFixtureOutput) {
  for (const std::string v : {"llama-spm", "gpt-2", "bert-bge"}) {
    const std::string base = Fixture("vocab/ggml-vocab-" + v + ".gguf");
    auto r = RunTokenfab("tokenize -m " + base + " --cases " + base + ".inp");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, testing::ReadFile(base + ".out")) << v;
  }
}

TEST(CliTest, EvalPrintsReferenceJsonAndLogits) {
  const auto ref = nlohmann::json::parse(testing::ReadFile(Fixture("refs/tiny-llama-spm-f16__code.json")));
  const std::string prompt_path = testing::TempPath("code.txt");
  std::ofstream(prompt_path, std::ios::binary) << ref["prompt"].get<std::string>();
  const std::string logits_path = testing::TempPath("logits.f32");
  auto r = RunTokenfab("eval -m " + Fixture("models/tiny-llama-spm-f16.gguf") + " --prompt-file " + prompt_path +
                       " -n 8 --logits-out " + logits_path);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto out = nlohmann::json::parse(r.out);
  EXPECT_EQ(out["prompt_tokens"], ref["prompt_tokens"]);
  EXPECT_EQ(out["prompt_argmax"], ref["prompt_argmax"]);
  const auto greedy = ref["greedy"].get<std::vector<int>>();
  EXPECT_EQ(out["greedy"].get<std::vector<int>>(), std::vector<int>(greedy.begin(), greedy.begin() + 8));
  EXPECT_TRUE(out["greedy_text"].is_string());
  const size_t n_prompt = ref["prompt_tokens"].size();
  EXPECT_EQ(std::filesystem::file_size(logits_path), n_prompt * 32000 * sizeof(float));
  // The last row of --logits-out equals the reference's check logits there.
  const std::string logits = testing::ReadFile(logits_path);
  const std::string check = testing::ReadFile(Fixture("refs/tiny-llama-spm-f16__code.check.f32"));
  const auto* got = reinterpret_cast<const float*>(logits.data()) + (n_prompt - 1) * 32000;
  const auto* want = reinterpret_cast<const float*>(check.data()) + 7 * 32000;  // check position 7 is the last
  for (int v = 0; v < 32000; ++v) ASSERT_NEAR(got[v], want[v], ref["tolerance"].get<double>());
}

// --override-kv changes metadata before anything reads it: the grouped
// DeepSeek fixture declares 2 groups of 8 experts, the best 1 used (what its
// references were made with); overriding to 4 groups, 2 used changes the
// routing, so the logits move away from the references, and `info` shows
// the overrides and the routing in effect.
TEST(CliTest, OverrideKvChangesWhatTheModelLoadsWith) {
  const std::string model = Fixture("models/tiny-deepseek3-grouped-f16.gguf");
  const std::string overrides =
      " --override-kv deepseek2.expert_group_count=int:4 --override-kv deepseek2.expert_group_used_count=int:2";
  const auto ref = nlohmann::json::parse(testing::ReadFile(Fixture("refs/tiny-deepseek3-grouped-f16__story.json")));
  const std::string prompt_path = testing::TempPath("story.txt");
  std::ofstream(prompt_path, std::ios::binary) << ref["prompt"].get<std::string>();
  const std::string as_declared = testing::TempPath("declared.f32"), overridden = testing::TempPath("overridden.f32");
  auto plain_eval = RunTokenfab("eval -m " + model + " --prompt-file " + prompt_path + " -n 3 --logits-out " + as_declared);
  ASSERT_EQ(plain_eval.exit_code, 0) << plain_eval.err;
  EXPECT_EQ(nlohmann::json::parse(plain_eval.out)["prompt_argmax"], ref["prompt_argmax"]);
  auto r = RunTokenfab("eval -m " + model + " --prompt-file " + prompt_path + " -n 3 --logits-out " + overridden + overrides);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string a = testing::ReadFile(as_declared), b = testing::ReadFile(overridden);
  ASSERT_EQ(a.size(), b.size());
  ASSERT_GT(a.size(), 0u);
  float max_diff = 0;
  for (size_t i = 0; i + 4 <= a.size(); i += 4) {
    float x, y;
    std::memcpy(&x, a.data() + i, 4);
    std::memcpy(&y, b.data() + i, 4);
    max_diff = std::max(max_diff, std::fabs(x - y));
  }
  EXPECT_GT(max_diff, 0.3f) << "other routing should move the logits past the fixture's tolerance";

  auto info = RunTokenfab("info -m " + model + overrides);
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_NE(info.out.find("overrides:     deepseek2.expert_group_count=int:4, deepseek2.expert_group_used_count=int:2"),
            std::string::npos) << info.out;
  EXPECT_NE(info.out.find("groups 2 of 4"), std::string::npos) << info.out;
  auto plain = RunTokenfab("info -m " + model);
  EXPECT_NE(plain.out.find("groups 1 of 2"), std::string::npos) << plain.out;
  EXPECT_EQ(plain.out.find("overrides:"), std::string::npos) << plain.out;

  ExpectCleanError(RunTokenfab("info -m " + model + " --override-kv deepseek2.expert_group_count=float:2"),
                   "the file stores u32, the override is f64");
  ExpectCleanError(RunTokenfab("generate -m " + model + " -p hi --override-kv deepseek2.expert_group_count"),
                   "expected KEY=TYPE:VALUE");
  ExpectCleanError(RunTokenfab("tokenize -m " + model + " -p hi --override-kv tokenizer.ggml.add_bos_token=bool:2"),
                   "true or false");
}

// The model fingerprint follows the bytes: two copies of one model agree
// wherever they lie, one flipped byte of tensor data changes it, an override
// changes the key but not the content hash, and a second look reads the
// sidecar instead of rehashing.
TEST(CliTest, InfoFingerprintsTheContentNotThePath) {
  namespace fs = std::filesystem;
  const fs::path dir = testing::TempPath("fingerprint-models");
  fs::remove_all(dir);
  fs::create_directories(dir / "a");
  fs::create_directories(dir / "b");
  const std::string src = Fixture("models/tiny-llama-spm-q8_0.gguf");
  fs::copy_file(src, dir / "a/m.gguf");
  fs::copy_file(src, dir / "b/same.gguf");
  fs::copy_file(src, dir / "b/flipped.gguf");
  {
    std::fstream f(dir / "b/flipped.gguf", std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(-100, std::ios::end);  // inside the last tensor's data
    const char c = static_cast<char>(f.get());
    f.seekp(-100, std::ios::end);
    f.put(static_cast<char>(c ^ 0x10));
  }
  auto line = [](const RunResult& r) {
    const size_t at = r.out.find("fingerprint:   ");
    return at == std::string::npos ? std::string() : r.out.substr(at, r.out.find('\n', at) - at);
  };
  auto hex = [&](const RunResult& r) { return line(r).substr(std::string("fingerprint:   xxh3-128 ").size(), 32); };
  const RunResult a = RunTokenfab("info -m " + (dir / "a/m.gguf").string());
  const RunResult same = RunTokenfab("info -m " + (dir / "b/same.gguf").string());
  const RunResult flipped = RunTokenfab("info -m " + (dir / "b/flipped.gguf").string());
  const RunResult again = RunTokenfab("info -m " + (dir / "a/m.gguf").string());
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_NE(line(a).find("(computed in"), std::string::npos) << line(a);
  EXPECT_NE(line(again).find("(cached in"), std::string::npos) << line(again);
  EXPECT_EQ(hex(a).size(), 32u);
  EXPECT_EQ(hex(a), hex(same));
  EXPECT_EQ(hex(a), hex(again));
  EXPECT_NE(hex(a), hex(flipped));
  EXPECT_TRUE(fs::exists(dir / "a/m.gguf.tfprint"));
  // The shared fixture itself hashes the same, and nothing is written beside
  // it while its directory is marked read-only (as shared/ is).
  const RunResult original = RunTokenfab("info -m " + src);
  EXPECT_EQ(hex(original), hex(a));
  if ((fs::status(fs::path(src).parent_path()).permissions() & fs::perms::owner_write) == fs::perms::none) {
    EXPECT_FALSE(fs::exists(src + ".tfprint"));
  }
  fs::remove_all(dir);
}

TEST(CliTest, SynthInfoAndGenerateWorkTogether) {
  const std::string path = testing::TempPath("tiny-q4_0.gguf");
  auto s = RunTokenfab("synth --preset tiny --type Q4_0 -o " + path + " --seed 5");
  ASSERT_EQ(s.exit_code, 0) << s.err;
  auto info = RunTokenfab("info -m " + path);
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_NE(info.out.find("architecture:  llama"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("q4_0 x"), std::string::npos);
  EXPECT_NE(info.out.find("chat template: present"), std::string::npos) << "synth writes a Zephyr-style template";
  auto g1 = RunTokenfab("generate -m " + path + " -p 'hello world' -n 16 --seed 9 --temp 0.7");
  auto g2 = RunTokenfab("generate -m " + path + " -p 'hello world' -n 16 --seed 9 --temp 0.7");
  ASSERT_EQ(g1.exit_code, 0) << g1.err;
  EXPECT_EQ(g1.out.rfind("hello world", 0), 0u);
  EXPECT_NE(g1.out.find("decode: 16 tokens"), std::string::npos) << g1.out;
  // Same seed, same text (the speed line differs).
  EXPECT_EQ(g1.out.substr(0, g1.out.find("\n\nprompt:")), g2.out.substr(0, g2.out.find("\n\nprompt:")));
}

TEST(CliTest, GenerateStopsAtEndOfTextAndChatUsesTheTemplate) {
  const std::string path = testing::TempPath("tiny-eos.gguf");
  ASSERT_EQ(RunTokenfab("synth --preset tiny --type q8_0 -o " + path).exit_code, 0);
  // The built-in vocabulary's EOS is the last id; biasing it makes it the
  // first token sampled, and generation must stop there.
  auto stop = RunTokenfab("generate -m " + path + " -p hi -n 20 --temp 0 --logit-bias 4095=100");
  ASSERT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_NE(stop.out.find("decode: 0 tokens"), std::string::npos) << stop.out;
  auto ignore = RunTokenfab("generate -m " + path + " -p hi -n 5 --temp 0 --logit-bias 4095=100 --ignore-eos");
  EXPECT_NE(ignore.out.find("decode: 5 tokens"), std::string::npos) << ignore.out;
  // A model without a template cannot chat; synthetic models and the
  // DeepSeek fixture can.
  ExpectCleanError(RunTokenfab("generate -m " + Fixture("models/tiny-llama-spm-q8_0.gguf") + " --chat -p hi"),
                   "no chat template");
  EXPECT_EQ(RunTokenfab("generate -m " + path + " --chat -p hi -n 2 --temp 0").exit_code, 0);
  auto chat = RunTokenfab("generate -m " + Fixture("models/tiny-deepseek3-q8_0.gguf") + " --chat --system S -p hello -n 4 --temp 0");
  ASSERT_EQ(chat.exit_code, 0) << chat.err;
  EXPECT_EQ(chat.out.find("hello"), std::string::npos) << "chat mode prints only the reply";
  // "<｜begin▁of▁sentence｜>S<｜User｜>hello<｜Assistant｜><think>\n": BOS once.
  auto tokens = RunTokenfab("tokenize -m " + Fixture("models/tiny-deepseek3-q8_0.gguf") +
                            " --parse-special -p '<｜begin▁of▁sentence｜>S<｜User｜>hello<｜Assistant｜><think>\n'");
  const size_t n_tokens = std::count(tokens.out.begin(), tokens.out.end(), ' ');
  EXPECT_NE(chat.out.find("prompt: " + std::to_string(n_tokens) + " tokens"), std::string::npos) << chat.out;
  ExpectCleanError(RunTokenfab("generate -m " + path + " -p hi --logit-bias 12x=3"), "--logit-bias 12x=3");
}

TEST(CliTest, ChatTemplateCommandRendersAConversation) {
  const std::string conv = testing::TempPath("conv.json");
  std::ofstream(conv) << R"({"messages": [{"role": "user", "content": "Hi"}], "tools": null, "add_generation_prompt": true})";
  auto r = RunTokenfab("chat-template --template " + Fixture("chat_templates/Qwen-Qwen2.5-7B-Instruct.jinja") +
                       " --conversation " + conv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
                   "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  std::ofstream(conv, std::ios::trunc) << "{not json";
  ExpectCleanError(RunTokenfab("chat-template --template " + Fixture("chat_templates/Qwen-Qwen2.5-7B-Instruct.jinja") +
                               " --conversation " + conv),
                   "not a JSON object");
  std::ofstream(conv, std::ios::trunc) << R"({"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]})";
  ExpectCleanError(RunTokenfab("chat-template --template " + Fixture("chat_templates/mistralai-Mistral-Nemo-Instruct-2407.jinja") +
                               " --conversation " + conv),
                   "alternate");
}

TEST(CliTest, BadInputGivesOneErrorLine) {
  const std::string garbage = testing::TempPath("garbage.gguf");
  std::ofstream(garbage, std::ios::binary) << std::string("GGUF\x03\0\0\0 this is not a model", 28);
  ExpectCleanError(RunTokenfab("info -m " + garbage), "metadata count at byte 16");
  ExpectCleanError(RunTokenfab("info -m /nonexistent.gguf"), "cannot open /nonexistent.gguf");
  ExpectCleanError(RunTokenfab("eval -m " + Fixture("vocab/ggml-vocab-gpt-2.gguf") + " --prompt-file /dev/null"),
                   "'gpt2' is not supported (supported: llama, qwen2, deepseek2)");
  // A GPT-2 vocabulary adds no BOS: an empty prompt has no tokens at all.
  ExpectCleanError(RunTokenfab("eval -m " + Fixture("models/tiny-qwen2-gpt2-bf16.gguf") + " --prompt-file /dev/null"),
                   "the prompt has no tokens");
  ExpectCleanError(RunTokenfab("generate -m " + Fixture("models/tiny-llama-spm-q8_0.gguf") + " -p hi --top-p 0"),
                   "top_p");
  ExpectCleanError(RunTokenfab("synth --preset tiny --type q2_k -o /tmp/x.gguf"), "--type q2_k");
  ExpectCleanError(RunTokenfab("synth --preset nope --type f16 -o /tmp/x.gguf"), "--preset");
  ExpectCleanError(RunTokenfab("tokenize -m " + Fixture("vocab/ggml-vocab-gpt-2.gguf")), "--cases or --prompt");
  ExpectCleanError(RunTokenfab("frobnicate"), "unknown command 'frobnicate'");
}

TEST(CliTest, TruncatedModelFilesNeverCrash) {
  const std::string model = testing::ReadFile(Fixture("models/tiny-llama-spm-q4_0.gguf"));
  const std::string path = testing::TempPath("truncated.gguf");
  for (size_t len : {size_t{0}, size_t{3}, size_t{100}, size_t{5000}, model.size() / 2, model.size() - 1}) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << model.substr(0, len);
    auto r = RunTokenfab("generate -m " + path + " -p hi -n 2");
    EXPECT_FALSE(r.crashed) << len;
    EXPECT_EQ(r.exit_code, 1) << len << ": " << r.err;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  }
}

TEST(CliTest, BenchJsonReportsRatesAndRooflinesAndCachesLimits) {
  const std::string cache = testing::TempPath("machine-limits.json");
  std::filesystem::remove(cache);
  const std::string model = Fixture("models/tiny-llama-spm-q4_0.gguf");
  auto r = RunTokenfab("bench -m " + model + " -p 8 -n 4 -r 2 -t 2 --json --limits-cache " + cache);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  for (const char* key : {"pp_tok_s", "tg_tok_s", "pp_tok_s_sd", "tg_tok_s_sd", "model_bytes", "bw_gbs",
                          "tg_roofline_pct", "pp_roofline_pct", "tg_roofline_tok_s", "pp_roofline_tok_s",
                          "int8_gops", "fp32_gflops"}) {
    ASSERT_TRUE(j.contains(key) && j[key].is_number()) << key << " in " << r.out;
  }
  EXPECT_GT(j["pp_tok_s"].get<double>(), 0);
  EXPECT_GT(j["tg_tok_s"].get<double>(), 0);
  EXPECT_GE(j["pp_tok_s_sd"].get<double>(), 0);
  EXPECT_EQ(j["threads"], 2);
  EXPECT_GT(j["model_bytes"].get<double>(), 0);
  EXPECT_GT(j["bw_gbs"].get<double>(), 0);
  EXPECT_EQ(j["pp_runs"].size(), 2u);  // the warm-up run is excluded
  EXPECT_EQ(j["tg_runs"].size(), 2u);
  // The decode roofline is the lower of the bandwidth bound (limits and the
  // model's size) and the arithmetic one; which one binds depends on the
  // machine and the build (an ASan build probes a low int8 peak), so the
  // check follows the bound the JSON says it used.
  const std::string bound = j["tg_roofline_bound"].get<std::string>();
  ASSERT_TRUE(bound == "memory" || bound == "compute") << r.out;
  const double tg_roof = j["tg_roofline_tok_s"].get<double>();
  const double memory_roof = j["bw_gbs"].get<double>() * 1e9 / j["model_bytes"].get<double>();
  if (bound == "memory") {
    EXPECT_NEAR(tg_roof, memory_roof, 1e-9 * memory_roof);
  } else {
    EXPECT_LT(tg_roof, memory_roof);
  }
  EXPECT_NEAR(j["tg_roofline_pct"].get<double>(), 100.0 * j["tg_tok_s"].get<double>() / tg_roof,
              1e-6 * j["tg_roofline_pct"].get<double>());
  EXPECT_NEAR(j["pp_roofline_pct"].get<double>(), 100.0 * j["pp_tok_s"].get<double>() / j["pp_roofline_tok_s"].get<double>(),
              1e-6 * j["pp_roofline_pct"].get<double>());
  // Limits were measured once and cached; the table run reuses them.
  ASSERT_TRUE(std::filesystem::exists(cache));
  auto table = RunTokenfab("bench -m " + model + " -p 4 -n 2 -r 1 -t 2 --batch 3 --limits-cache " + cache);
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("cached in " + cache), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("pp4 x3"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("tg2 x3"), std::string::npos) << table.out;
}

TEST(CliTest, BenchRejectsBadArgumentsCleanly) {
  const std::string model = Fixture("models/tiny-llama-spm-q4_0.gguf");
  auto r = RunTokenfab("bench -m " + model + " -r 0");
  EXPECT_FALSE(r.crashed);
  EXPECT_EQ(r.exit_code, 2);
  ExpectCleanError(RunTokenfab("bench -m " + model + " -p 0 -n 0"), "need at least one");
  ExpectCleanError(RunTokenfab("bench -m /nonexistent.gguf"), "/nonexistent.gguf");
  ExpectCleanError(RunTokenfab("bench -m " + model + " --kv-type q4_0"), "--kv-type");
}

TEST(CliTest, ServeAndLoadgenRejectBadArgumentsCleanly) {
  ExpectCleanError(RunTokenfab("serve -m /nonexistent.gguf"), "/nonexistent.gguf");
  ExpectCleanError(RunTokenfab("serve -m " + Fixture("models/tiny-llama-spm-q8_0.gguf") + " --host not-an-ip --port 0"),
                   "not-an-ip");
  ExpectCleanError(RunTokenfab("loadgen --url ftp://127.0.0.1:1"), "only http://");
  ExpectCleanError(RunTokenfab("loadgen --url http://127.0.0.1:8080 --input-tokens 5:2"), "--input-tokens 5:2");
  ExpectCleanError(RunTokenfab("loadgen --url http://127.0.0.1:8080 --sweep speed=1,2"), "--sweep");
  // Nothing listens on port 1: one error before any load, however long the run was to be.
  ExpectCleanError(RunTokenfab("loadgen --url http://127.0.0.1:1 --duration 60 --concurrency 8 --no-progress"),
                   "http://127.0.0.1:1 does not answer: Connection refused (is the server running?)");
}

}  // namespace
}  // namespace tf
