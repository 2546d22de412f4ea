#include "model/reference_judge.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "common/fixtures.h"
#include "common/load_pool.h"
#include "engine/sequence_runner.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_override.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace tf::testing {
namespace {

int32_t Argmax(const float* row, int64_t n) {
  return static_cast<int32_t>(std::max_element(row, row + n) - row);
}

std::string Join(const std::vector<int32_t>& v) {
  std::string s;
  for (int32_t x : v) {
    if (!s.empty()) s += ',';
    s += std::to_string(x);
  }
  return s;
}

}  // namespace

JudgeResult JudgeAgainstReference(const std::string& ref_json_path, const KernelTable& kernels, ThreadPool* pool,
                                  const std::vector<std::string>& override_kv) {
  JudgeResult r;
  const auto ref = nlohmann::json::parse(ReadFile(ref_json_path));
  const std::string model_path = FixturePath("models/" + ref["model"].get<std::string>());
  auto file = GgufFile::Open(model_path);
  if (!file.ok()) {
    r.detail = file.status().ToString();
    return r;
  }
  if (Status st = ApplyGgufOverrides(override_kv, file->get()); !st.ok()) {
    r.detail = st.ToString();
    return r;
  }
  auto tokenizer = Tokenizer::FromGguf(**file);
  ModelOptions options;
  options.kernels = &kernels;
  auto model = LoadModel(**file, options, pool);
  if (!tokenizer.ok() || !model.ok()) {
    r.detail = !tokenizer.ok() ? tokenizer.status().ToString() : model.status().ToString();
    return r;
  }
  const auto expected_tokens = ref["prompt_tokens"].get<std::vector<int32_t>>();
  const auto tokens = (*tokenizer)->Encode(ref["prompt"].get<std::string>(), true, false);
  r.tokens_equal = tokens == expected_tokens;
  if (!r.tokens_equal) r.detail = "tokens: got [" + Join(tokens) + "] want [" + Join(expected_tokens) + "]";

  const int64_t n_vocab = (*model)->config().n_vocab;
  const auto greedy = ref["greedy"].get<std::vector<int32_t>>();
  auto runner = SequenceRunner::Create(model->get(), pool, static_cast<int64_t>(expected_tokens.size() + greedy.size() + 1));
  std::vector<float> logits;
  Status st = (*runner)->Append(expected_tokens, true, &logits);
  if (!st.ok()) {
    r.detail = st.ToString();
    return r;
  }
  const double tol = ref["tolerance"].get<double>();
  // Rule 2: check positions.
  const auto check_positions = ref["check_positions"].get<std::vector<int64_t>>();
  const std::string check_bytes = ReadFile(FixturePath("refs/" + ref["check_logits_file"].get<std::string>()));
  const auto* exact = reinterpret_cast<const float*>(check_bytes.data());
  r.check_positions = static_cast<int>(check_positions.size());
  for (size_t i = 0; i < check_positions.size(); ++i) {
    const float* got = logits.data() + check_positions[i] * n_vocab;
    double diff = 0.0;
    for (int64_t v = 0; v < n_vocab; ++v) diff = std::max(diff, std::fabs(double(got[v]) - exact[i * n_vocab + v]));
    r.max_check_diff = std::max(r.max_check_diff, diff);
    r.check_within_tol += diff <= tol;
  }
  // Rule 3: argmax where the exact margin is large.
  const auto argmax = ref["prompt_argmax"].get<std::vector<int32_t>>();
  const auto margins = ref["prompt_margins"].get<std::vector<double>>();
  for (size_t p = 0; p < argmax.size(); ++p) {
    if (margins[p] <= 2 * tol) continue;
    ++r.confident_positions;
    const int32_t got = Argmax(logits.data() + p * n_vocab, n_vocab);
    if (got == argmax[p]) {
      ++r.confident_argmax_equal;
    } else if (r.detail.empty()) {
      r.detail = "argmax at " + std::to_string(p) + ": got " + std::to_string(got) + " want " + std::to_string(argmax[p]);
    }
  }
  // Rule 4: greedy continuation up to the first low-margin step. We keep
  // generating past it to see whether the whole continuation matches.
  const auto greedy_margins = ref["greedy_margins"].get<std::vector<double>>();
  int32_t next = Argmax(logits.data() + (expected_tokens.size() - 1) * n_vocab, n_vocab);
  bool judged = true;     // still before the first low-margin step
  bool all_equal = true;  // every step so far equals the reference
  for (size_t step = 0; step < greedy.size(); ++step) {
    if (greedy_margins[step] <= 2 * tol) judged = false;
    all_equal = all_equal && next == greedy[step];
    if (judged) {
      ++r.greedy_compared;
      if (next == greedy[step]) {
        ++r.greedy_equal;
      } else if (r.detail.empty()) {
        r.detail = "greedy step " + std::to_string(step) + ": got " + std::to_string(next) + " want " + std::to_string(greedy[step]);
      }
      judged = next == greedy[step];
    }
    if (!all_equal && !judged) break;
    std::vector<float> step_logits;
    st = (*runner)->Append(std::vector<int32_t>{next}, false, &step_logits);
    if (!st.ok()) {
      r.detail = st.ToString();
      all_equal = false;
      break;
    }
    next = Argmax(step_logits.data(), n_vocab);
  }
  // The detokenizer: when every greedy step matched, the reference's text of
  // the continuation must come back exactly.
  if (ref.contains("greedy_text") && ref["greedy_text"].is_string() &&
      all_equal) {
    r.greedy_text_checked = true;
    r.greedy_text_equal = (*tokenizer)->Decode(greedy) == ref["greedy_text"].get<std::string>();
    if (!r.greedy_text_equal && r.detail.empty()) r.detail = "greedy_text: got '" + (*tokenizer)->Decode(greedy) + "'";
  }
  return r;
}

void ExpectPassesRule(const JudgeResult& r, bool moe) {
  EXPECT_TRUE(r.tokens_equal) << r.detail;
  EXPECT_GT(r.check_positions, 0);
  EXPECT_GE(r.check_within_tol * 4, r.check_positions * 3)
      << r.check_within_tol << "/" << r.check_positions << " check positions within tolerance; max diff "
      << r.max_check_diff;
  if (moe) {
    EXPECT_GE(r.confident_argmax_equal * 10, r.confident_positions * 9) << r.detail;
  } else {
    EXPECT_EQ(r.confident_argmax_equal, r.confident_positions) << r.detail;
  }
  EXPECT_EQ(r.greedy_equal, r.greedy_compared) << r.detail;
  if (r.greedy_text_checked) {
    EXPECT_TRUE(r.greedy_text_equal) << r.detail;
  }
}

}  // namespace tf::testing
