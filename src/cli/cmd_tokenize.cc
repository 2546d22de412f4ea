// tokenfab tokenize -m FILE.gguf (--cases FILE.inp | -p TEXT)
// --cases: test strings separated by the line "__ggml_vocab_test__"; prints
// one line per case, each id preceded by a space, no BOS/EOS, special-token
// text not parsed (the format of the fixtures' .out files).
#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "cli/cli_common.h"
#include "cli/command.h"
#include "tokenizer/vocab_test_cases.h"

namespace tf {
namespace {

struct TokenizeOptions {
  ModelSource model;
  std::string cases_path;
  std::string prompt;
  bool add_special = false;
  bool parse_special = false;
  bool show_pieces = false;
};

void PrintIds(const std::vector<int32_t>& ids) {
  std::string line;
  for (int32_t id : ids) {
    line += ' ';
    line += std::to_string(id);
  }
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stdout);
}

Status Run(const TokenizeOptions& o) {
  TF_ASSIGN_OR_RETURN(auto file, OpenGguf(o.model));
  TF_ASSIGN_OR_RETURN(auto tokenizer, Tokenizer::FromGguf(*file));
  if (!o.cases_path.empty()) {
    TF_ASSIGN_OR_RETURN(std::string raw, ReadWholeFile(o.cases_path));
    for (const std::string& c : SplitVocabTestCases(raw)) PrintIds(tokenizer->Encode(c, false, false));
    return Status::Ok();
  }
  const auto ids = tokenizer->Encode(o.prompt, o.add_special, o.parse_special);
  if (!o.show_pieces) {
    PrintIds(ids);
    return Status::Ok();
  }
  for (int32_t id : ids) {
    fmt::print("{:>8} {:?}\n", id, tokenizer->TokenToPiece(id, true));
  }
  return Status::Ok();
}

}  // namespace

CommandFn RegisterTokenizeCommand(CLI::App* app, const GlobalOptions*) {
  auto o = std::make_shared<TokenizeOptions>();
  CLI::App* cmd = app->add_subcommand("tokenize", "Print the token ids of text");
  AddModelSourceOptions(cmd, &o->model, "GGUF file (a vocabulary-only file is enough)");
  auto* cases = cmd->add_option("--cases", o->cases_path, "Cases file (separated by __ggml_vocab_test__ lines)");
  auto* prompt = cmd->add_option("-p,--prompt", o->prompt, "Text to tokenize");
  cases->excludes(prompt);
  cmd->add_flag("--add-special", o->add_special, "With -p: add BOS/EOS as the vocabulary asks");
  cmd->add_flag("--parse-special", o->parse_special, "With -p: turn special-token text into those tokens");
  cmd->add_flag("--pieces", o->show_pieces, "With -p: one line per token with its text");
  cmd->callback([cmd, cases, prompt] {
    if (cases->count() == 0 && prompt->count() == 0) throw CLI::RequiredError("--cases or --prompt");
    (void)cmd;
  });
  return [o] { return Run(*o); };
}

}  // namespace tf
