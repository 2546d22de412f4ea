#include "sample/sampling_params.h"

#include <cmath>

#include <fmt/format.h>

namespace tf {
namespace {

Status Bad(const char* field, double value, std::string_view rule) {
  return InvalidArgumentError(fmt::format("{} = {}: {}", field, value, rule)).WithParam(field);
}

}  // namespace

Status SamplingParams::Validate(int64_t n_vocab) const {
  if (!std::isfinite(temperature) || temperature < 0.0f || temperature > kMaxTemperature) {
    return Bad("temperature", temperature, fmt::format("must be within [0, {}]", kMaxTemperature));
  }
  if (top_k < 0) return Bad("top_k", top_k, "must be >= 0 (0 disables it)");
  if (!std::isfinite(top_p) || top_p <= 0.0f || top_p > 1.0f) return Bad("top_p", top_p, "must be within (0, 1]");
  if (!std::isfinite(min_p) || min_p < 0.0f || min_p > 1.0f) return Bad("min_p", min_p, "must be within [0, 1]");
  if (!std::isfinite(repetition_penalty) || repetition_penalty <= 0.0f || repetition_penalty > 100.0f) {
    return Bad("repetition_penalty", repetition_penalty, "must be within (0, 100]");
  }
  if (!std::isfinite(presence_penalty) || std::fabs(presence_penalty) > 2.0f) {
    return Bad("presence_penalty", presence_penalty, "must be within [-2, 2]");
  }
  if (!std::isfinite(frequency_penalty) || std::fabs(frequency_penalty) > 2.0f) {
    return Bad("frequency_penalty", frequency_penalty, "must be within [-2, 2]");
  }
  for (const auto& [token, bias] : logit_bias) {
    if (token < 0 || token >= n_vocab) {
      return InvalidArgumentError(fmt::format("logit_bias: token {} is outside the vocabulary (0..{})", token, n_vocab - 1))
          .WithParam("logit_bias");
    }
    if (!std::isfinite(bias) || std::fabs(bias) > 100.0f) {
      return InvalidArgumentError(fmt::format("logit_bias: bias {} for token {} must be within [-100, 100]", bias, token))
          .WithParam("logit_bias");
    }
  }
  return Status::Ok();
}

}  // namespace tf
