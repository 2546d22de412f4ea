#include "engine/model_runner.h"

#include <fmt/format.h>

namespace tf {

StatusOr<std::unique_ptr<ModelRunner>> ModelRunner::Create(Model* model, ThreadPool* pool, const KvCacheConfig& kv) {
  if (kv.block_size <= 0 || kv.block_size > 1024) {
    return InvalidArgumentError(fmt::format("KV block size {} must be in [1, 1024]", kv.block_size));
  }
  TF_ASSIGN_OR_RETURN(auto storage, KvStorage::Create(model->kv_layout(), kv.type, kv.block_size, kv.num_blocks));
  return std::unique_ptr<ModelRunner>(new ModelRunner(model, pool, std::move(storage)));
}

ModelRunner::ModelRunner(Model* model, ThreadPool* pool, std::unique_ptr<KvStorage> kv)
    : model_(model), pool_(pool), kv_(std::move(kv)), n_vocab_(model->config().n_vocab) {}

void ModelRunner::Clear() {
  tokens_.clear();
  batch_.seqs.clear();
  batch_.logit_rows.clear();
}

void ModelRunner::Add(std::span<const int32_t> tokens, int64_t start_pos, std::span<const int32_t> block_table,
                      LogitRows rows) {
  const int64_t begin = num_tokens();
  const int64_t n = static_cast<int64_t>(tokens.size());
  tokens_.insert(tokens_.end(), tokens.begin(), tokens.end());
  batch_.seqs.push_back({begin, n, start_pos, block_table});
  if (n == 0) return;
  if (rows == LogitRows::kLast) batch_.logit_rows.push_back(begin + n - 1);
  if (rows == LogitRows::kAll) {
    for (int64_t i = 0; i < n; ++i) batch_.logit_rows.push_back(begin + i);
  }
}

Status ModelRunner::Run() {
  batch_.tokens = tokens_;
  logits_.resize(batch_.logit_rows.size() * static_cast<size_t>(n_vocab_));
  return model_->Forward(batch_, kv_.get(), pool_, logits_.data());
}

}  // namespace tf
