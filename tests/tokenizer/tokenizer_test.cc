// Pre-tokenizer splits, special-token handling, detokenization and the
// streaming UTF-8 decoder.
#include <gtest/gtest.h>

#include <random>

#include "base/utf8.h"
#include "common/fixtures.h"
#include "gguf/gguf_file.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/text_stream_decoder.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/wpm_tokenizer.h"

namespace tf {
namespace {

std::vector<std::string> SplitWith(const std::string& pre, const std::string& text) {
  auto p = PreTokenizer::ForName(pre);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  std::vector<std::string> out;
  for (auto piece : (*p)->Split(text)) out.emplace_back(piece);
  return out;
}

using Pieces = std::vector<std::string>;

TEST(PreTokenizerTest, Gpt2SplitsWordsAndKeepsSpaceBeforeLastWord) {
  EXPECT_EQ(SplitWith("gpt-2", "Hello world  x"), (Pieces{"Hello", " world", " ", " x"}));
  EXPECT_EQ(SplitWith("gpt-2", "I'll 12345"), (Pieces{"I", "'ll", " 12345"}));
}

TEST(PreTokenizerTest, Llama3GroupsDigitsByThreeAndMatchesContractionsAnyCase) {
  EXPECT_EQ(SplitWith("llama-bpe", "12345 I'LL"), (Pieces{"123", "45", " I", "'LL"}));
  EXPECT_EQ(SplitWith("llama-bpe", "a\n\n b"), (Pieces{"a", "\n\n", " b"}));
}

TEST(PreTokenizerTest, Qwen2SplitsEveryDigit) {
  EXPECT_EQ(SplitWith("qwen2", "x=123"), (Pieces{"x", "=", "1", "2", "3"}));
}

TEST(PreTokenizerTest, DeepseekV3SplitsDigitsThenCjk) {
  EXPECT_EQ(SplitWith("deepseek-v3", "1234年ab"), (Pieces{"123", "4", "年", "ab"}));
}

TEST(PreTokenizerTest, DollarMeansEndOfPieceOnly) {
  // "\s+$" must not match the spaces before a final newline.
  auto p = PreTokenizer::FromPatterns({"\\s+$"});
  ASSERT_TRUE(p.ok());
  std::vector<std::string> got;
  for (auto piece : (*p)->Split("a  \nb  ")) got.emplace_back(piece);
  EXPECT_EQ(got, (Pieces{"a  \nb", "  "}));
}

TEST(PreTokenizerTest, UnknownNameIsAnError) {
  auto p = PreTokenizer::ForName("no-such-pre");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("no-such-pre"), std::string::npos);
}

std::unique_ptr<Tokenizer> LoadVocab(const std::string& name) {
  auto file = GgufFile::Open(testing::FixturePath("vocab/ggml-vocab-" + name + ".gguf"));
  EXPECT_TRUE(file.ok()) << file.status().ToString();
  auto tok = Tokenizer::FromGguf(**file);
  EXPECT_TRUE(tok.ok()) << tok.status().ToString();
  return std::move(tok).value();
}

TEST(TokenizerTest, SpecialTextParsedOnlyWhenAsked) {
  auto tok = LoadVocab("phi-3");
  const int32_t user = *tok->vocab().Find("<|user|>");
  auto parsed = tok->Encode("<|user|>\nhi", false, true);
  ASSERT_FALSE(parsed.empty());
  EXPECT_EQ(parsed[0], user);
  auto plain = tok->Encode("<|user|>\nhi", false, false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), user), 0);
  // Phi-3's special tokens swallow the whitespace after them.
  EXPECT_EQ(tok->Encode("<|user|>   hi", false, true), tok->Encode("<|user|>hi", false, true));
}

TEST(TokenizerTest, AddsBosPerVocabulary) {
  auto spm = LoadVocab("llama-spm");
  auto ids = spm->Encode("Hello", true, false);
  ASSERT_GE(ids.size(), 2u);
  EXPECT_EQ(ids[0], spm->vocab().bos_id());
  auto gpt2 = LoadVocab("gpt-2");  // no add_bos_token key: BPE adds none
  EXPECT_EQ(gpt2->Encode("Hello", true, false), gpt2->Encode("Hello", false, false));
}

TEST(TokenizerTest, UserDefinedTokensAreAlwaysMatched) {
  auto tok = LoadVocab("deepseek-coder");
  const int32_t u_umlaut = *tok->vocab().Find("ü");
  auto ids = tok->Encode("Führer", false, false);
  EXPECT_NE(std::find(ids.begin(), ids.end(), u_umlaut), ids.end());
}

TEST(TokenizerTest, DecodeInvertsEncodeForSpmAndBpe) {
  for (const std::string name : {"llama-spm", "gpt-2", "deepseek-llm", "starcoder"}) {
    auto tok = LoadVocab(name);
    for (const std::string text : {"Hello world", " Hello World!", "  leading spaces", "tabs\tand\nnewlines\n",
                                   "Ünïcödé 🚀 日本語 ½", "3333333 ... '''"}) {
      auto ids = tok->Encode(text, true, false);
      EXPECT_EQ(tok->Decode(ids), text) << name;
    }
  }
}

TEST(TokenizerTest, WordPieceLowercasesAndStripsAccents) {
  EXPECT_EQ(WpmTokenizer::SplitWords("Führer, CAFÉ!\t天x"),
            (Pieces{"fuhrer", ",", "cafe", "!", "天", "x"}));
}

TEST(TokenizerTest, StreamingPiecesEqualsWholeDecode) {
  auto tok = LoadVocab("gpt-2");
  const std::string text = "Emoji 🚀🎉 and 日本語 split across byte tokens";
  auto ids = tok->Encode(text, false, false);
  TextStreamDecoder stream;
  std::string streamed;
  for (int32_t id : ids) {
    std::string out = stream.Push(tok->TokenToPiece(id));
    EXPECT_TRUE(IsValidUtf8(out));
    streamed += out;
  }
  streamed += stream.Flush();
  EXPECT_EQ(streamed, text);
}

TEST(TextStreamDecoderTest, HoldsBackPartialCharacters) {
  TextStreamDecoder d;
  EXPECT_EQ(d.Push("a\xF0\x9F"), "a");
  EXPECT_EQ(d.pending_bytes(), 2u);
  EXPECT_EQ(d.Push("\x9A"), "");
  EXPECT_EQ(d.Push("\x80z"), "\xF0\x9F\x9A\x80z");
  EXPECT_EQ(d.Push("\xC3"), "");
  EXPECT_EQ(d.Flush(), "\xEF\xBF\xBD");  // unfinished at the end
  EXPECT_EQ(d.Push("\xFF"), "\xEF\xBF\xBD");  // can never start a character
}

TEST(TextStreamDecoderTest, RandomBytesAlwaysGiveValidUtf8SameAsWholeDecode) {
  std::mt19937 rng(7);
  for (int iter = 0; iter < 2000; ++iter) {
    std::string bytes(rng() % 40, '\0');
    for (char& c : bytes) {
      // Bias toward multi-byte leads and continuations.
      const uint32_t r = rng() % 4;
      c = static_cast<char>(r == 0 ? rng() % 0x80 : r == 1 ? 0x80 + rng() % 0x40 : 0xC0 + rng() % 0x40);
    }
    TextStreamDecoder d;
    std::string out;
    for (size_t pos = 0; pos < bytes.size();) {
      const size_t n = 1 + rng() % 3;
      std::string part = d.Push(bytes.substr(pos, n));
      ASSERT_TRUE(IsValidUtf8(part));
      out += part;
      pos += n;
    }
    out += d.Flush();
    ASSERT_TRUE(IsValidUtf8(out));
    ASSERT_EQ(out, SanitizeUtf8(bytes));
  }
}

TEST(TokenizerTest, RandomBytesEncodeAndDecodeWithoutInvalidUtf8) {
  std::mt19937 rng(11);
  for (const std::string name : {"llama-spm", "gpt-2", "bert-bge"}) {
    auto tok = LoadVocab(name);
    for (int iter = 0; iter < 300; ++iter) {
      std::string bytes(rng() % 32, '\0');
      for (char& c : bytes) c = static_cast<char>(rng());
      auto ids = tok->Encode(bytes, true, true);
      for (int32_t id : ids) ASSERT_TRUE(tok->vocab().IsValidId(id));
      ASSERT_TRUE(IsValidUtf8(tok->Decode(ids))) << name;
    }
  }
}

}  // namespace
}  // namespace tf
