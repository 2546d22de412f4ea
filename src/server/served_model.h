// What the API server needs to know about a model it serves, to build
// prompts and check requests; generation goes through the backend.
#pragma once

#include <cstdint>
#include <string>

#include "jinja/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace tf {

// Whether a chat template writes <think> blocks (a reasoning model).
inline bool TemplateUsesThinking(const std::string& source) {
  return source.find("<think>") != std::string::npos || source.find("</think>") != std::string::npos;
}

struct ServedModel {
  std::string name;                 // the id /v1/models lists and requests may name
  const Tokenizer* tokenizer = nullptr;
  const ChatTemplate* chat_template = nullptr;  // null: chat completions are refused
  bool reasoning = false;           // the template writes <think> blocks
  int64_t ctx_size = 0;
  int64_t n_vocab = 0;
  int64_t created_unix = 0;
};

}  // namespace tf
