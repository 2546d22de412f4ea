// The Llama family: pre-norm decoder with RMSNorm, rotary embeddings,
// grouped-query attention and a SwiGLU feed-forward. Covers `llama`
// (rotation on adjacent pairs, as GGUF converters permute Q/K for it) and
// `qwen2` (rotation on halves, q/k/v biases).
#pragma once

#include <memory>

#include "base/status.h"
#include "model/model.h"

namespace tf {

StatusOr<std::unique_ptr<Model>> LoadLlamaFamilyModel(const GgufFile& file, const KernelTable& kernels,
                                                 const ModelOptions& options, ThreadPool* pool);

}  // namespace tf
