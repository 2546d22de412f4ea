// Logging goes through spdlog to stderr; stdout is reserved for command output
// (token ids, generated text, JSON) that scripts parse.
#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

namespace tf {

// Sets up the stderr logger once; `level` is one of trace, debug, info, warn,
// error, off. Unknown names leave the level at warn.
void InitLogging(std::string_view level);

}  // namespace tf

#define TF_LOG_DEBUG(...) SPDLOG_DEBUG(__VA_ARGS__)
#define TF_LOG_INFO(...) SPDLOG_INFO(__VA_ARGS__)
#define TF_LOG_WARN(...) SPDLOG_WARN(__VA_ARGS__)
#define TF_LOG_ERROR(...) SPDLOG_ERROR(__VA_ARGS__)
