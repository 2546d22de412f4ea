#include "cli/cli_common.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "gguf/gguf_override.h"
#include "tensor/kv_storage.h"
#include "jinja/chat_template.h"

namespace tf {

StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return IoError(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return IoError(fmt::format("cannot read {}", path));
  return ss.str();
}

void AddModelSourceOptions(CLI::App* cmd, ModelSource* source, const std::string& model_help) {
  cmd->add_option("-m,--model", source->path, model_help)->required();
  cmd->add_option("--override-kv", source->override_kv,
                  "KEY=TYPE:VALUE replaces or adds a metadata key before loading; TYPE is int, float, bool or str "
                  "(repeatable)");
}

StatusOr<std::unique_ptr<GgufFile>> OpenGguf(const ModelSource& source) {
  TF_ASSIGN_OR_RETURN(auto file, GgufFile::Open(source.path));
  TF_RETURN_IF_ERROR(ApplyGgufOverrides(source.override_kv, file.get()));
  return file;
}

StatusOr<ModelFingerprint> FingerprintModel(const ModelSource& source) {
  TF_ASSIGN_OR_RETURN(FileFingerprint content, FingerprintFile(source.path));
  std::string key = fmt::format("xxh3-128:{}|overrides:{}", content.hex, DescribeGgufOverrides(source.override_kv));
  return ModelFingerprint{std::move(key), std::move(content)};
}

StatusOr<LoadedModel> OpenModel(const ModelSource& source, ThreadPool* pool, const ModelOptions& options) {
  const std::string& path = source.path;
  LoadedModel m;
  TF_ASSIGN_OR_RETURN(m.file, OpenGguf(source));
  TF_ASSIGN_OR_RETURN(m.tokenizer, Tokenizer::FromGguf(*m.file));
  auto model = LoadModel(*m.file, options, pool);
  if (!model.ok()) return model.status().WithContext(path);
  m.model = std::move(model).value();
  if (m.tokenizer->vocab().size() > m.model->config().n_vocab) {
    return InvalidArgumentError(fmt::format("{}: the vocabulary has {} tokens but the model only {} embeddings", path,
                                            m.tokenizer->vocab().size(), m.model->config().n_vocab));
  }
  return m;
}

StatusOr<std::string> RenderChatPrompt(const LoadedModel& m, const std::string& template_file,
                                       const std::string& system, const std::string& user) {
  std::string source;
  if (!template_file.empty()) {
    TF_ASSIGN_OR_RETURN(source, ReadWholeFile(template_file));
  } else {
    TF_ASSIGN_OR_RETURN(source, m.file->GetStringOr("tokenizer.chat_template", ""));
    if (source.empty()) {
      return FailedPreconditionError("--chat: the model has no chat template (give one with --chat-template-file)");
    }
  }
  TF_ASSIGN_OR_RETURN(auto tmpl, ChatTemplate::Parse(source));
  ChatTemplateInputs in;
  if (!system.empty()) in.messages.push_back({{"role", "system"}, {"content", system}});
  in.messages.push_back({{"role", "user"}, {"content", user}});
  in.add_generation_prompt = true;
  const Vocab& v = m.tokenizer->vocab();
  if (v.bos_id() >= 0) in.bos_token = v.token(v.bos_id()).text;
  if (v.eos_id() >= 0) in.eos_token = v.token(v.eos_id()).text;
  return tmpl->Render(in);
}

int ResolveThreads(int requested) { return requested > 0 ? requested : DefaultThreadCount(); }

StatusOr<DType> ParseKvType(const std::string& name) {
  auto type = ParseDType(name);
  if (!type || !IsKvType(*type)) return InvalidArgumentError(fmt::format("--kv-type {}: expected f32 or bf16", name));
  return *type;
}

}  // namespace tf
