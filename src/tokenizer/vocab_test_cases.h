// The test-vector format of llama.cpp-style vocabulary tests (.inp files):
// test strings, each followed by the line "__ggml_vocab_test__".
#pragma once

#include <string>
#include <vector>

namespace tf {

std::vector<std::string> SplitVocabTestCases(const std::string& raw);

}  // namespace tf
