// tokenfab: the command-line entry point. Parses the subcommand, runs it, and
// turns any failure into one "error: ..." line and a non-zero exit code.
#include <cstdio>
#include <exception>
#include <new>

#include <CLI/CLI.hpp>

#include "base/logging.h"
#include "cli/command.h"

int main(int argc, char** argv) {
  CLI::App app{"tokenfab: a token factory for GGUF models on CPUs", "tokenfab"};
  app.require_subcommand(1);
  tf::GlobalOptions global;
  app.add_option("-t,--threads", global.threads, "Worker threads (default: one per core)")
      ->check(CLI::Range(1, 1024));
  app.add_option("--log-level", global.log_level, "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  app.fallthrough();

  std::vector<std::pair<CLI::App*, tf::CommandFn>> commands;
  auto add = [&](tf::CommandFn (*reg)(CLI::App*, const tf::GlobalOptions*)) {
    const size_t before = app.get_subcommands({}).size();
    tf::CommandFn fn = reg(&app, &global);
    commands.emplace_back(app.get_subcommands({})[before], std::move(fn));
  };
  add(tf::RegisterTokenizeCommand);
  add(tf::RegisterEvalCommand);
  add(tf::RegisterGenerateCommand);
  add(tf::RegisterInfoCommand);
  add(tf::RegisterSynthCommand);
  add(tf::RegisterChatTemplateCommand);
  add(tf::RegisterBenchCommand);
  add(tf::RegisterServeCommand);
  add(tf::RegisterRouterCommand);
  add(tf::RegisterLoadgenCommand);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    bool known = false;
    for (const CLI::App* sub : app.get_subcommands({})) known = known || (argc > 1 && sub->get_name() == argv[1]);
    if (argc > 1 && argv[1][0] != '-' && !known) {
      std::fprintf(stderr, "error: unknown command '%s' (commands: tokenize, eval, generate, info, synth, chat-template, bench, serve, router, loadgen)\n", argv[1]);
    } else {
      std::fprintf(stderr, "error: %s (see tokenfab --help)\n", e.what());
    }
    return 2;
  }
  tf::InitLogging(global.log_level);
  try {
    for (auto& [sub, fn] : commands) {
      if (!sub->parsed()) continue;
      tf::Status status = fn();
      std::fflush(stdout);
      if (!status.ok()) {
        std::fprintf(stderr, "error: %s\n", status.message().c_str());
        return 1;
      }
      return 0;
    }
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "error: no command given (see tokenfab --help)\n");
  return 2;
}
