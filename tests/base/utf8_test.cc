#include "base/utf8.h"

#include <gtest/gtest.h>

namespace tf {
namespace {

TEST(Utf8Test, DecodesAllLengths) {
  const std::string s = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";  // a é € 😀
  std::vector<uint32_t> cps;
  for (size_t pos = 0; pos < s.size();) {
    DecodedCodepoint d = DecodeUtf8(s, pos);
    ASSERT_TRUE(d.valid);
    cps.push_back(d.codepoint);
    pos += d.length;
  }
  EXPECT_EQ(cps, (std::vector<uint32_t>{0x61, 0xE9, 0x20AC, 0x1F600}));
}

TEST(Utf8Test, EncodeRoundTrips) {
  for (uint32_t cp : {0x0u, 0x7Fu, 0x80u, 0x7FFu, 0x800u, 0xFFFFu, 0x10000u, 0x10FFFFu}) {
    std::string s = EncodeUtf8(cp);
    DecodedCodepoint d = DecodeUtf8(s, 0);
    EXPECT_TRUE(d.valid) << cp;
    EXPECT_EQ(d.codepoint, cp);
    EXPECT_EQ(static_cast<size_t>(d.length), s.size());
  }
}

TEST(Utf8Test, RejectsOverlongSurrogatesAndOutOfRange) {
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xE0\x80\xAF"));      // overlong 3-byte
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // U+D800 surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // U+110000
  EXPECT_FALSE(IsValidUtf8("\xE2\x82"));          // truncated
  EXPECT_FALSE(IsValidUtf8("\x80"));              // lone continuation
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
}

TEST(Utf8Test, SanitizeReplacesEachBrokenCharacterOnce) {
  // A truncated 3-byte sequence is one U+FFFD (its maximal valid prefix), a
  // lone continuation byte is another.
  EXPECT_EQ(SanitizeUtf8("a\xE2\x82" "b\x80"), "a\xEF\xBF\xBD" "b\xEF\xBF\xBD");
  EXPECT_EQ(SanitizeUtf8("ok \xC3\xA9"), "ok \xC3\xA9");
}

}  // namespace
}  // namespace tf
