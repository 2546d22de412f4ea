// A model's chat template (`tokenizer.chat_template`), rendered like the
// Hugging Face reference: Jinja2 with trim_blocks and lstrip_blocks, loop
// controls, a tojson without ASCII escaping, raise_exception and
// strftime_now. Parsing happens once; rendering is bounded (output size,
// loop iterations, call depth) so a hostile template cannot hang a server.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string>

#include "base/status.h"

namespace tf {

namespace jinja {
struct Stmt;
}  // namespace jinja

struct ChatTemplateInputs {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  nlohmann::ordered_json tools;  // null or an array
  bool add_generation_prompt = false;
  std::string bos_token;
  std::string eos_token;
  std::string now;  // ISO 8601 for strftime_now; empty: the current time
  // Further template variables (e.g. enable_thinking), object or null.
  nlohmann::ordered_json extra;
};

class ChatTemplate {
 public:
  // A syntax error is InvalidArgument naming the line.
  static StatusOr<std::unique_ptr<ChatTemplate>> Parse(const std::string& source);
  ~ChatTemplate();

  // raise_exception() in the template and runtime errors are
  // InvalidArgument with the template's message.
  StatusOr<std::string> Render(const ChatTemplateInputs& inputs) const;

 private:
  ChatTemplate();
  std::vector<std::unique_ptr<jinja::Stmt>> program_;
};

}  // namespace tf
