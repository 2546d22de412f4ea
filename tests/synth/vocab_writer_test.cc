// The built-in byte-level vocabulary: well-formed for tokenfab and for other
// GGUF engines (unique token texts, merges of existing tokens, every byte
// representable), and round-trips text.
#include <gtest/gtest.h>

#include <set>

#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "tokenizer/tokenizer.h"
#include "synth/vocab_writer.h"

namespace tf {
namespace {

TEST(BuiltinVocabTest, WellFormedAndRoundTrips) {
  for (int64_t n_vocab : {258, 4096, 32000}) {
    GgufWriter w;
    ASSERT_TRUE(WriteBuiltinByteVocab(n_vocab, &w).ok());
    const std::string bytes = *w.WriteToString();
    auto file = *GgufFile::Parse({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
    const auto& tokens = (*file->GetArray("tokenizer.ggml.tokens"))->strings;
    ASSERT_EQ(static_cast<int64_t>(tokens.size()), n_vocab);
    // llama.cpp asserts that no two tokens share a text.
    EXPECT_EQ(std::set<std::string>(tokens.begin(), tokens.end()).size(), tokens.size());
    std::set<std::string> known(tokens.begin(), tokens.end());
    for (const std::string& m : (*file->GetArray("tokenizer.ggml.merges"))->strings) {
      const size_t space = m.find(' ', 1);
      ASSERT_NE(space, std::string::npos) << m;
      EXPECT_TRUE(known.count(m.substr(0, space)) && known.count(m.substr(space + 1))) << m;
      EXPECT_TRUE(known.count(m.substr(0, space) + m.substr(space + 1))) << m;
    }
    auto tok = Tokenizer::FromGguf(*file);
    ASSERT_TRUE(tok.ok()) << tok.status().ToString();
    const std::string text = "the cat sat on a mat, 123 ÿ\n\t😀";
    const auto ids = (*tok)->Encode(text, true, false);
    EXPECT_EQ(ids.front(), n_vocab - 2);  // BOS
    EXPECT_EQ((*tok)->Decode(ids), text);
    if (n_vocab == 32000) {  // short words are single tokens: 22 bytes, 7 tokens
      EXPECT_LE((*tok)->Encode("the cat sat on the mat", false, false).size(), 8u);
    }
  }
  GgufWriter w;
  EXPECT_FALSE(WriteBuiltinByteVocab(100, &w).ok());
}

}  // namespace
}  // namespace tf
