// Helpers shared by the CLI commands: reading files, opening a model with
// its tokenizer, thread pool sizing.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "base/file_fingerprint.h"
#include "base/status.h"
#include "base/thread_pool.h"
#include "gguf/gguf_file.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace tf {

StatusOr<std::string> ReadWholeFile(const std::string& path);

// Where a command's model comes from: the file, and metadata overrides that
// correct or add keys before anything reads them (gguf/gguf_override.h).
struct ModelSource {
  std::string path;
  std::vector<std::string> override_kv;  // KEY=TYPE:VALUE, applied in order
};
// Adds -m/--model (required) and --override-kv (repeatable) to `cmd`.
void AddModelSourceOptions(CLI::App* cmd, ModelSource* source, const std::string& model_help);
// The file with the overrides applied.
StatusOr<std::unique_ptr<GgufFile>> OpenGguf(const ModelSource& source);
// What the prefix-cache and KV-store keys start from: the file's content
// hash (base/file_fingerprint.h, cached beside it) and the overrides, which
// change what the cached KV means: "xxh3-128:<hex>|overrides:<specs>".
struct ModelFingerprint {
  std::string key;
  FileFingerprint content;
};
StatusOr<ModelFingerprint> FingerprintModel(const ModelSource& source);

// A model file opened for running: the mapped file, its tokenizer, the model.
struct LoadedModel {
  std::unique_ptr<GgufFile> file;
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<Model> model;
};
// `pool` loads the weights (and is the one the command then computes with).
StatusOr<LoadedModel> OpenModel(const ModelSource& source, ThreadPool* pool, const ModelOptions& options = ModelOptions{});

int ResolveThreads(int requested);

// The model's chat template (or the one in `template_file`) applied to an
// optional system message and one user message, ready for generation.
StatusOr<std::string> RenderChatPrompt(const LoadedModel& model, const std::string& template_file,
                                       const std::string& system, const std::string& user);

// "f32" or "bf16" (case-insensitive) for --kv-type.
StatusOr<DType> ParseKvType(const std::string& name);

}  // namespace tf
