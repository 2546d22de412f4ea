// libFuzzer target: every fixture vocabulary (SPM, BPE with each
// pre-tokenizer, WPM) encoding arbitrary bytes, with and without special
// tokens, then decoding the ids whole and incrementally. Input: byte 0 picks
// the vocabulary, byte 1 the flags, the rest is the text.
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "tokenizer/text_stream_decoder.h"
#include "tokenizer/tokenizer.h"

namespace {

struct Vocabs {
  std::vector<std::unique_ptr<tf::GgufFile>> files;
  std::vector<std::unique_ptr<tf::Tokenizer>> tokenizers;
};

Vocabs LoadVocabs() {
  Vocabs v;
  const char* dir = std::getenv("TF_FIXTURES_DIR");
  const std::filesystem::path vocab_dir = std::filesystem::path(dir ? dir : TF_FIXTURES_DIR) / "vocab";
  std::vector<std::filesystem::path> paths;
  for (const auto& entry : std::filesystem::directory_iterator(vocab_dir)) {
    if (entry.path().extension() == ".gguf") paths.push_back(entry.path());
  }
  std::sort(paths.begin(), paths.end());
  for (const auto& p : paths) {
    auto file = tf::GgufFile::Open(p.string());
    if (!file.ok()) continue;
    auto tok = tf::Tokenizer::FromGguf(**file);
    if (!tok.ok()) continue;
    v.files.push_back(std::move(*file));
    v.tokenizers.push_back(std::move(*tok));
  }
  if (v.tokenizers.empty()) std::abort();  // the fixtures must be there
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Vocabs vocabs = LoadVocabs();
  if (size < 2) return 0;
  const tf::Tokenizer& tok = *vocabs.tokenizers[data[0] % vocabs.tokenizers.size()];
  const bool add_special = data[1] & 1, parse_special = data[1] & 2;
  const std::string text(reinterpret_cast<const char*>(data + 2), size - 2);
  const std::vector<int32_t> ids = tok.Encode(text, add_special, parse_special);
  (void)tok.Decode(ids, (data[1] & 4) != 0);
  tf::TextStreamDecoder stream;
  std::string streamed;
  for (int32_t id : ids) streamed += stream.Push(tok.TokenToPiece(id));
  streamed += stream.Flush();
  // Also arbitrary (possibly invalid) ids, as a client could send.
  for (size_t i = 2; i + 4 <= size && i < 66; i += 4) {
    int32_t id;
    std::memcpy(&id, data + i, 4);
    if (tok.vocab().IsValidId(id)) (void)tok.TokenToPiece(id, true);
  }
  return 0;
}
