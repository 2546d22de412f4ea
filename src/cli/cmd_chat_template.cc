// tokenfab chat-template --template FILE.jinja --conversation CONV.json
//                        [--now ISO8601] [--bos S] [--eos S]
// CONV.json: {"messages": [...], "tools": [...] or null,
// "add_generation_prompt": true|false}. Prints exactly the rendered text.
#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "cli/cli_common.h"
#include "cli/command.h"
#include "jinja/chat_template.h"

namespace tf {
namespace {

struct ChatTemplateOptions {
  std::string template_file;
  std::string conversation_file;
  std::string now;
  std::string bos = "<s>";
  std::string eos = "</s>";
};

Status Run(const ChatTemplateOptions& o) {
  TF_ASSIGN_OR_RETURN(std::string source, ReadWholeFile(o.template_file));
  TF_ASSIGN_OR_RETURN(std::string conv_text, ReadWholeFile(o.conversation_file));
  auto conv = nlohmann::ordered_json::parse(conv_text, nullptr, false);
  if (conv.is_discarded() || !conv.is_object()) {
    return InvalidArgumentError(fmt::format("--conversation {}: not a JSON object", o.conversation_file));
  }
  if (!conv.contains("messages") || !conv["messages"].is_array()) {
    return InvalidArgumentError(fmt::format("--conversation {}: 'messages' must be an array", o.conversation_file));
  }
  ChatTemplateInputs in;
  in.messages = conv["messages"];
  if (conv.contains("tools")) in.tools = conv["tools"];
  if (conv.contains("add_generation_prompt")) {
    if (!conv["add_generation_prompt"].is_boolean()) {
      return InvalidArgumentError("'add_generation_prompt' must be true or false");
    }
    in.add_generation_prompt = conv["add_generation_prompt"].get<bool>();
  }
  in.bos_token = o.bos;
  in.eos_token = o.eos;
  in.now = o.now;
  TF_ASSIGN_OR_RETURN(auto tmpl, ChatTemplate::Parse(source));
  TF_ASSIGN_OR_RETURN(std::string text, tmpl->Render(in));
  std::fwrite(text.data(), 1, text.size(), stdout);
  return Status::Ok();
}

}  // namespace

CommandFn RegisterChatTemplateCommand(CLI::App* app, const GlobalOptions*) {
  auto o = std::make_shared<ChatTemplateOptions>();
  CLI::App* cmd = app->add_subcommand("chat-template", "Render a chat template for a conversation");
  cmd->add_option("--template", o->template_file, "Jinja chat template file")->required();
  cmd->add_option("--conversation", o->conversation_file, "JSON: messages, tools, add_generation_prompt")->required();
  cmd->add_option("--now", o->now, "Time for strftime_now, ISO 8601 (default: now)");
  cmd->add_option("--bos", o->bos, "bos_token (default <s>)");
  cmd->add_option("--eos", o->eos, "eos_token (default </s>)");
  return [o] { return Run(*o); };
}

}  // namespace tf
