#include "cli/cli_common.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "model/kv_storage.h"

namespace tf {

StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return IoError(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return IoError(fmt::format("cannot read {}", path));
  return ss.str();
}

StatusOr<LoadedModel> OpenModel(const std::string& path) {
  LoadedModel m;
  TF_ASSIGN_OR_RETURN(m.file, GgufFile::Open(path));
  TF_ASSIGN_OR_RETURN(m.tokenizer, Tokenizer::FromGguf(*m.file));
  auto model = LoadModel(*m.file, ModelOptions{});
  if (!model.ok()) return model.status().WithContext(path);
  m.model = std::move(model).value();
  if (m.tokenizer->vocab().size() > m.model->config().n_vocab) {
    return InvalidArgumentError(fmt::format("{}: the vocabulary has {} tokens but the model only {} embeddings", path,
                                            m.tokenizer->vocab().size(), m.model->config().n_vocab));
  }
  return m;
}

int ResolveThreads(int requested) { return requested > 0 ? requested : DefaultThreadCount(); }

StatusOr<DType> ParseKvType(const std::string& name) {
  auto type = ParseDType(name);
  if (!type || !IsKvType(*type)) return InvalidArgumentError(fmt::format("--kv-type {}: expected f32 or bf16", name));
  return *type;
}

}  // namespace tf
