// libFuzzer target: --override-kv specs (one per input line, at most 16)
// parsed and applied to the metadata of each fixture model, then the
// architecture's configuration read from it. Overrides put any value a user
// types into keys the model reads, so every one must end in a Status, never
// a crash, a huge allocation or undefined behaviour.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/gguf_file.h"
#include "gguf/gguf_override.h"
#include "gguf/gguf_writer.h"
#include "model/arch/deepseek2_config.h"
#include "model/model_config.h"

namespace {

// Each fixture model's metadata without the tokenizer (whose arrays make
// parsing slow and which the configuration never reads).
std::vector<std::string> BaseFiles() {
  const char* dir = std::getenv("TF_FIXTURES_DIR");
  const std::filesystem::path models = std::filesystem::path(dir ? dir : TF_FIXTURES_DIR) / "models";
  std::vector<std::string> out;
  for (const char* name : {"tiny-deepseek3-grouped-f16.gguf", "tiny-llama-spm-q8_0.gguf", "tiny-qwen2-gpt2-bf16.gguf"}) {
    auto file = tf::GgufFile::Open((models / name).string());
    if (!file.ok()) std::abort();  // the harness is misconfigured, not a finding
    tf::GgufWriter w;
    for (const tf::GgufKeyValue& kv : (*file)->metadata()) {
      if (kv.key.rfind("tokenizer.", 0) != 0) w.Set(kv.key, kv.value);
    }
    auto bytes = w.WriteToString();
    if (!bytes.ok()) std::abort();
    out.push_back(std::move(*bytes));
  }
  return out;
}

std::vector<std::string> Lines(std::string_view text) {
  std::vector<std::string> lines;
  while (!text.empty() && lines.size() < 16) {
    const size_t nl = text.find('\n');
    lines.emplace_back(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
  }
  return lines;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<std::string> bases = BaseFiles();
  const std::vector<std::string> specs = Lines({reinterpret_cast<const char*>(data), size});
  for (const std::string& base : bases) {
    auto file = tf::GgufFile::Parse({reinterpret_cast<const uint8_t*>(base.data()), base.size()});
    if (!file.ok()) std::abort();
    if (!tf::ApplyGgufOverrides(specs, file->get()).ok()) return 0;
    const std::string arch = *(*file)->GetStringOr("general.architecture", "");
    if (arch == "deepseek2") {
      (void)tf::ReadDeepseek2Config(**file);
    } else {
      (void)tf::ReadModelConfig(**file, arch == "qwen2" ? tf::RopeStyle::kHalves : tf::RopeStyle::kAdjacentPairs);
    }
  }
  return 0;
}
