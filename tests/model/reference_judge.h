// The fixtures README's rule for judging an engine against a reference
// (refs/MODEL__PROMPT.json), shared by every architecture's test:
//  1. prompt tokens equal exactly;
//  2. at >= 75% of check positions, max |logit - exact| <= tol;
//  3. where the exact margin exceeds 2*tol, argmax equals the reference's
//     (all such positions for dense models, >= 90% for mixture-of-experts);
//  4. greedy continuation equals the reference up to the first step whose
//     margin is <= 2*tol.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/kernel_table.h"

namespace tf::testing {

struct JudgeResult {
  bool tokens_equal = false;
  int check_positions = 0;
  int check_within_tol = 0;
  double max_check_diff = 0.0;
  int confident_positions = 0;
  int confident_argmax_equal = 0;
  int greedy_compared = 0;   // steps up to the first low-margin one
  int greedy_equal = 0;      // leading steps that matched
  bool greedy_text_checked = false;  // reference has greedy_text and all steps matched
  bool greedy_text_equal = false;
  std::string detail;        // first mismatch, for the failure message
};

// Loads the model named by the reference (with `override_kv` metadata
// overrides, KEY=TYPE:VALUE, applied first) and runs the whole procedure.
JudgeResult JudgeAgainstReference(const std::string& ref_json_path, const KernelTable& kernels, ThreadPool* pool,
                                  const std::vector<std::string>& override_kv = {});

// Asserts the four rules; `moe` relaxes rule 3 to 90%.
void ExpectPassesRule(const JudgeResult& r, bool moe);

}  // namespace tf::testing
