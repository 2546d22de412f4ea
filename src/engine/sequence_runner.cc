#include "engine/sequence_runner.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include <fmt/format.h>

namespace tf {
namespace {
constexpr int kBlockSize = 64;
// Prompt tokens per forward pass: bounds activation memory for long prompts.
constexpr int64_t kPrefillChunk = 512;
}  // namespace

StatusOr<std::unique_ptr<SequenceRunner>> SequenceRunner::Create(Model* model, ThreadPool* pool, int64_t max_tokens,
                                                                 DType kv_type) {
  if (max_tokens <= 0) return InvalidArgumentError(fmt::format("context size {} must be positive", max_tokens));
  const int64_t num_blocks = (max_tokens + kBlockSize - 1) / kBlockSize;
  TF_ASSIGN_OR_RETURN(auto runner, ModelRunner::Create(model, pool, {kv_type, kBlockSize, num_blocks}));
  return std::unique_ptr<SequenceRunner>(new SequenceRunner(std::move(runner), max_tokens));
}

SequenceRunner::SequenceRunner(std::unique_ptr<ModelRunner> runner, int64_t max_tokens)
    : runner_(std::move(runner)), max_tokens_(max_tokens) {
  block_table_.resize(static_cast<size_t>(runner_->kv().num_blocks()));
  std::iota(block_table_.begin(), block_table_.end(), 0);
}

Status SequenceRunner::Append(std::span<const int32_t> tokens, bool all_logits, std::vector<float>* logits_out) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (n == 0) return InvalidArgumentError("no tokens to append");
  if (num_tokens_ + n > max_tokens_) {
    return OutOfRangeError(fmt::format("{} tokens do not fit: context holds {}, {} used", n, max_tokens_, num_tokens_));
  }
  const int64_t n_vocab = runner_->n_vocab();
  for (int32_t id : tokens) {  // checked up front so a bad id never leaves half a prompt cached
    if (id < 0 || id >= n_vocab) {
      return InvalidArgumentError(fmt::format("token {} is outside the vocabulary (0..{})", id, n_vocab - 1));
    }
  }
  logits_out->resize(static_cast<size_t>((all_logits ? n : 1) * n_vocab));
  for (int64_t begin = 0; begin < n; begin += kPrefillChunk) {
    const int64_t count = std::min(kPrefillChunk, n - begin);
    const bool last_chunk = begin + count == n;
    runner_->Clear();
    runner_->Add(tokens.subspan(begin, count), num_tokens_, block_table_,
                 all_logits ? LogitRows::kAll : (last_chunk ? LogitRows::kLast : LogitRows::kNone));
    TF_RETURN_IF_ERROR(runner_->Run());
    num_tokens_ += count;
    if (runner_->num_logit_rows() == 0) continue;
    const std::span<const float> rows = runner_->logit_rows(0, runner_->num_logit_rows());
    std::memcpy(logits_out->data() + (all_logits ? begin * n_vocab : 0), rows.data(), rows.size_bytes());
  }
  return Status::Ok();
}

}  // namespace tf
