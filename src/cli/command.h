// How subcommands plug into the `tokenfab` binary: each Register* adds its
// CLI11 subcommand and options, and returns the function that runs it. A
// command reports failure as a Status; main prints it as one "error:" line.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "base/status.h"

namespace tf {

struct GlobalOptions {
  int threads = 0;  // 0: one per available core
  std::string log_level = "warn";
};

using CommandFn = std::function<Status()>;

// Each returns the runner for its subcommand; `global` outlives the call.
CommandFn RegisterTokenizeCommand(CLI::App* app, const GlobalOptions* global);
CommandFn RegisterEvalCommand(CLI::App* app, const GlobalOptions* global);
CommandFn RegisterGenerateCommand(CLI::App* app, const GlobalOptions* global);
CommandFn RegisterInfoCommand(CLI::App* app, const GlobalOptions* global);
CommandFn RegisterSynthCommand(CLI::App* app, const GlobalOptions* global);
CommandFn RegisterChatTemplateCommand(CLI::App* app, const GlobalOptions* global);
CommandFn RegisterBenchCommand(CLI::App* app, const GlobalOptions* global);
CommandFn RegisterRouterCommand(CLI::App* app, const GlobalOptions* global);
CommandFn RegisterServeCommand(CLI::App* app, const GlobalOptions* global);
CommandFn RegisterLoadgenCommand(CLI::App* app, const GlobalOptions* global);

}  // namespace tf
