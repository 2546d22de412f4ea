#include "synth/vocab_writer.h"

#include <string>
#include <vector>

#include <fmt/format.h>

#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace tf {

StatusOr<int64_t> CopyVocab(const GgufFile& from, GgufWriter* to) {
  // Validate first: copying a vocabulary we cannot read helps nobody.
  TF_ASSIGN_OR_RETURN(Vocab vocab, Vocab::FromGguf(from));
  for (const GgufKeyValue& kv : from.metadata()) {
    if (kv.key.rfind("tokenizer.", 0) == 0) to->Set(kv.key, kv.value);
  }
  return static_cast<int64_t>(vocab.size());
}

Status WriteBuiltinByteVocab(int64_t n_vocab, GgufWriter* to) {
  if (n_vocab < 258) {
    return InvalidArgumentError(fmt::format("built-in vocabulary needs at least 258 tokens, asked for {}", n_vocab));
  }
  const int64_t n_regular = n_vocab - 2;
  std::vector<std::string> tokens;
  std::vector<std::string> merges;
  tokens.reserve(n_vocab);
  for (int b = 0; b < 256; ++b) tokens.push_back(ByteToBpeChar(static_cast<uint8_t>(b)));
  // Merges that greedy lowest-rank BPE can actually follow: letter pairs
  // ("xy"), then triples reachable from either split ("xy z" and "x yz"),
  // then a leading space on each ("Ġ x", "Ġ xy", "Ġ xyz"), until full.
  const std::string space = ByteToBpeChar(' ');
  std::vector<std::string> letters, pairs, triples;
  for (char c = 'a'; c <= 'z'; ++c) letters.emplace_back(1, c);
  auto add = [&](const std::string& token, std::vector<std::pair<std::string, std::string>> splits) {
    if (static_cast<int64_t>(tokens.size()) >= n_regular) return false;
    for (const auto& [left, right] : splits) merges.push_back(left + " " + right);
    tokens.push_back(token);
    return true;
  };
  for (const auto& x : letters) {
    for (const auto& y : letters) {
      if (add(x + y, {{x, y}})) pairs.push_back(x + y);
    }
  }
  for (const auto& x : letters) {
    for (const auto& y : letters) {
      for (const auto& z : letters) {
        if (add(x + y + z, {{x + y, z}, {x, y + z}})) triples.push_back(x + y + z);
      }
    }
  }
  for (const auto* words : {&letters, &pairs, &triples}) {
    for (const auto& w : *words) add(space + w, {{space, w}});
  }
  // Whatever is left becomes unused padding tokens.
  for (int64_t i = static_cast<int64_t>(tokens.size()); i < n_regular; ++i) tokens.push_back(fmt::format("[PAD{}]", i));
  std::vector<int32_t> types(tokens.size(), static_cast<int32_t>(TokenType::kNormal));
  for (int64_t i = 0; i < n_regular; ++i) {
    if (tokens[i].rfind("[PAD", 0) == 0) types[i] = static_cast<int32_t>(TokenType::kUnused);
  }
  tokens.push_back("<|bos|>");
  tokens.push_back("<|eos|>");
  types.push_back(static_cast<int32_t>(TokenType::kControl));
  types.push_back(static_cast<int32_t>(TokenType::kControl));
  to->SetString("tokenizer.ggml.model", "gpt2");
  to->SetString("tokenizer.ggml.pre", "gpt-2");
  to->Set("tokenizer.ggml.tokens", MakeStringArray(std::move(tokens)));
  to->Set("tokenizer.ggml.token_type", MakeInt32Array(types));
  to->Set("tokenizer.ggml.merges", MakeStringArray(std::move(merges)));
  to->SetU32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(n_vocab - 2));
  to->SetU32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(n_vocab - 1));
  to->SetBool("tokenizer.ggml.add_bos_token", true);
  to->SetBool("tokenizer.ggml.add_eos_token", false);
  // A Zephyr-style template (TinyLlama-Chat's shape) so synthetic models can
  // be served through /v1/chat/completions.
  to->SetString("tokenizer.chat_template",
                "{{ bos_token }}{% for message in messages %}<|{{ message['role'] }}|>\n"
                "{{ message['content'] }}{{ eos_token }}\n{% endfor %}"
                "{% if add_generation_prompt %}<|assistant|>\n{% endif %}");
  return Status::Ok();
}

}  // namespace tf
