// Helpers shared by the CLI commands: reading files, opening a model with
// its tokenizer, thread pool sizing.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "base/thread_pool.h"
#include "gguf/gguf_file.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace tf {

StatusOr<std::string> ReadWholeFile(const std::string& path);

// A model file opened for running: the mapped file, its tokenizer, the model.
struct LoadedModel {
  std::unique_ptr<GgufFile> file;
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<Model> model;
};
StatusOr<LoadedModel> OpenModel(const std::string& path, const ModelOptions& options = ModelOptions{});

int ResolveThreads(int requested);

// The model's chat template (or the one in `template_file`) applied to an
// optional system message and one user message, ready for generation.
StatusOr<std::string> RenderChatPrompt(const LoadedModel& model, const std::string& template_file,
                                       const std::string& system, const std::string& user);

// "f32" or "bf16" (case-insensitive) for --kv-type.
StatusOr<DType> ParseKvType(const std::string& name);

}  // namespace tf
