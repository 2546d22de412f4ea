#include "sample/logits_processors.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace tf {

void MaskTokensBreakingJson(const JsonRecognizer& json, std::span<const std::string> pieces, std::span<float> logits) {
  constexpr float kNeg = -std::numeric_limits<float>::infinity();
  for (size_t id = 0; id < logits.size(); ++id) {
    if (logits[id] == kNeg) continue;
    if (id >= pieces.size() || pieces[id].empty()) {
      logits[id] = kNeg;
      continue;
    }
    JsonRecognizer probe = json;
    if (!probe.Feed(pieces[id])) logits[id] = kNeg;
  }
}

LogprobsOfToken LogprobsOf(std::span<const float> logits, int32_t token, int top_k) {
  const float max_logit = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float v : logits) sum += std::exp(static_cast<double>(v - max_logit));
  const float log_z = max_logit + static_cast<float>(std::log(sum));
  LogprobsOfToken out;
  out.logprob = logits[static_cast<size_t>(token)] - log_z;
  const size_t k = std::min<size_t>(static_cast<size_t>(std::max(top_k, 0)), logits.size());
  std::vector<int32_t> ids(logits.size());
  std::iota(ids.begin(), ids.end(), 0);
  std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(k), ids.end(),
                    [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
  for (size_t i = 0; i < k; ++i) out.top.emplace_back(ids[i], logits[static_cast<size_t>(ids[i])] - log_z);
  return out;
}

}  // namespace tf
