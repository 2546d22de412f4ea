#include "base/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <mutex>

namespace tf {

void InitLogging(std::string_view level) {
  static std::once_flag once;
  std::call_once(once, [] {
    auto logger = spdlog::stderr_color_mt("tokenfab");
    logger->set_pattern("%^[%L %H:%M:%S.%e]%$ %v");
    spdlog::set_default_logger(logger);
  });
  auto parsed = spdlog::level::from_str(std::string(level));
  if (parsed == spdlog::level::off && level != "off") parsed = spdlog::level::warn;
  spdlog::set_level(parsed);
}

}  // namespace tf
