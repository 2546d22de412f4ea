// What is done to a row of logits besides sampling from it: the mask that
// keeps output a JSON object, and the log-probabilities a request reports.
// Plain functions over spans; the request state they read is passed in.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "sample/json_constraint.h"

namespace tf {

// Sets to -inf the logit of every token whose text cannot extend the text
// `json` has accepted so far, and of every token without text (ids past
// `pieces`, control tokens). pieces[id]: the bytes token id adds.
void MaskTokensBreakingJson(const JsonRecognizer& json, std::span<const std::string> pieces, std::span<float> logits);

struct LogprobsOfToken {
  float logprob = 0;                           // of the chosen token
  std::vector<std::pair<int32_t, float>> top;  // the most likely tokens, best first (ties: lower id first)
};
// log_softmax(logits)[token] and the `top_k` best entries of log_softmax(logits).
LogprobsOfToken LogprobsOf(std::span<const float> logits, int32_t token, int top_k);

}  // namespace tf
