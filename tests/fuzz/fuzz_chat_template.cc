// libFuzzer target: the Jinja-subset chat-template engine. Input: a template,
// optionally followed by "\n<<<CONVERSATION>>>\n" and a JSON conversation
// ({"messages", "tools", "add_generation_prompt"}); rendering is bounded in
// output, loops and depth, so every input must finish.
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "jinja/chat_template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  static const std::string kSeparator = "\n<<<CONVERSATION>>>\n";
  const size_t sep = input.find(kSeparator);
  const std::string source = input.substr(0, sep);
  auto tmpl = tf::ChatTemplate::Parse(source);
  if (!tmpl.ok()) return 0;
  tf::ChatTemplateInputs in;
  in.bos_token = "<s>";
  in.eos_token = "</s>";
  in.now = "2026-01-15T09:30:00";
  nlohmann::ordered_json conv;
  if (sep != std::string::npos) conv = nlohmann::ordered_json::parse(input.substr(sep + kSeparator.size()), nullptr, false);
  if (conv.is_object()) {
    if (conv.contains("messages")) in.messages = conv["messages"];
    if (conv.contains("tools")) in.tools = conv["tools"];
    in.add_generation_prompt = conv.value("add_generation_prompt", true);
  } else {
    in.messages = nlohmann::ordered_json::parse(R"([{"role":"system","content":"s"},{"role":"user","content":"hi"},
                                                   {"role":"assistant","content":"<think>x</think>yo"},{"role":"user","content":"\u00e9"}])");
    in.add_generation_prompt = true;
  }
  (void)(*tmpl)->Render(in);
  return 0;
}
