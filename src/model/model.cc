#include "model/model.h"

#include <fmt/format.h>

#include "gguf/gguf_file.h"
#include "model/arch/deepseek2.h"
#include "model/arch/llama.h"

namespace tf {

StatusOr<std::unique_ptr<Model>> LoadModel(const GgufFile& file, const ModelOptions& options, ThreadPool* pool) {
  TF_ASSIGN_OR_RETURN(std::string arch, file.GetString("general.architecture"));
  const KernelTable& kernels = options.kernels != nullptr ? *options.kernels : GetKernelTable(options.isa);
  if (arch == "llama" || arch == "qwen2") return LoadLlamaFamilyModel(file, kernels, options, pool);
  if (arch == "deepseek2") return LoadDeepseek2Model(file, kernels, options, pool);
  return UnimplementedError(
      fmt::format("key 'general.architecture': '{}' is not supported (supported: llama, qwen2, deepseek2)", arch));
}

}  // namespace tf
