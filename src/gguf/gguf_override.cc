#include "gguf/gguf_override.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace tf {
namespace {

constexpr size_t kMaxOverrideKeyBytes = 256;

// strtoll/strtod skip leading blanks; a value is the whole text or nothing.
bool StartsLikeANumber(const std::string& text) {
  return !text.empty() && !std::isspace(static_cast<unsigned char>(text[0]));
}

StatusOr<GgufValue> ParseIntValue(std::string_view spec, const std::string& text) {
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (!StartsLikeANumber(text) || end != text.c_str() + text.size()) {
    return InvalidArgumentError(fmt::format("--override-kv '{}': '{}' is not an integer", spec, text));
  }
  if (errno == ERANGE) {
    return InvalidArgumentError(fmt::format("--override-kv '{}': {} is outside the 64-bit integer range", spec, text));
  }
  return GgufValue(static_cast<int64_t>(v));
}

StatusOr<GgufValue> ParseFloatValue(std::string_view spec, const std::string& text) {
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (!StartsLikeANumber(text) || end != text.c_str() + text.size()) {
    return InvalidArgumentError(fmt::format("--override-kv '{}': '{}' is not a number", spec, text));
  }
  if (!std::isfinite(v) || errno == ERANGE) {
    return InvalidArgumentError(fmt::format("--override-kv '{}': {} is not a finite double", spec, text));
  }
  return GgufValue(v);
}

StatusOr<GgufValue> ParseBoolValue(std::string_view spec, const std::string& text) {
  if (text == "true") return GgufValue(true);
  if (text == "false") return GgufValue(false);
  return InvalidArgumentError(fmt::format("--override-kv '{}': a bool is true or false, not '{}'", spec, text));
}

}  // namespace

StatusOr<GgufKeyValue> ParseGgufOverride(std::string_view spec) {
  const size_t eq = spec.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return InvalidArgumentError(fmt::format("--override-kv '{}': expected KEY=TYPE:VALUE", spec));
  }
  if (eq > kMaxOverrideKeyBytes) {
    return InvalidArgumentError(
        fmt::format("--override-kv: key of {} bytes (at most {})", eq, kMaxOverrideKeyBytes));
  }
  const std::string_view rest = spec.substr(eq + 1);
  const size_t colon = rest.find(':');
  if (colon == std::string_view::npos) {
    return InvalidArgumentError(fmt::format("--override-kv '{}': expected TYPE:VALUE after '='", spec));
  }
  const std::string_view type = rest.substr(0, colon);
  const std::string text(rest.substr(colon + 1));
  GgufKeyValue kv;
  kv.key = std::string(spec.substr(0, eq));
  if (type == "int") {
    TF_ASSIGN_OR_RETURN(kv.value, ParseIntValue(spec, text));
  } else if (type == "float") {
    TF_ASSIGN_OR_RETURN(kv.value, ParseFloatValue(spec, text));
  } else if (type == "bool") {
    TF_ASSIGN_OR_RETURN(kv.value, ParseBoolValue(spec, text));
  } else if (type == "str") {
    kv.value = GgufValue(text);
  } else {
    return InvalidArgumentError(
        fmt::format("--override-kv '{}': type '{}' is not one of int, float, bool, str", spec, type));
  }
  return kv;
}

Status ApplyGgufOverrides(const std::vector<std::string>& specs, GgufFile* file) {
  for (const std::string& spec : specs) {
    TF_ASSIGN_OR_RETURN(GgufKeyValue kv, ParseGgufOverride(spec));
    TF_RETURN_IF_ERROR(file->SetMetadata(std::move(kv)));
  }
  return Status::Ok();
}

std::string DescribeGgufOverrides(const std::vector<std::string>& specs) {
  return fmt::format("{}", fmt::join(specs, ";"));
}

}  // namespace tf
