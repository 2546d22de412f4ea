// DeepSeek V2/V3 (`deepseek2`): multi-head latent attention, computed in
// absorbed form against a cache of latents, and DeepSeekMoE feed-forward
// layers after the leading dense ones.
#pragma once

#include <memory>

#include "base/status.h"
#include "model/model.h"

namespace tf {

StatusOr<std::unique_ptr<Model>> LoadDeepseek2Model(const GgufFile& file, const KernelTable& kernels,
                                                 const ModelOptions& options, ThreadPool* pool);

}  // namespace tf
