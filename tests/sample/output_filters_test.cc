// Stop-string holding and the JSON recognizer, byte by byte.
#include <gtest/gtest.h>

#include <string>

#include "sample/json_constraint.h"
#include "sample/stop_matcher.h"

namespace tf {
namespace {

TEST(StopMatcher, HoldsBackPossibleStopPrefixesAndCutsAtTheStop) {
  StopMatcher m({"</end>", "STOP"});
  EXPECT_EQ(m.Push("hello <").text, "hello ");
  EXPECT_EQ(m.Push("/e").text, "");
  const StopMatcher::Result r = m.Push("nd> more");
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.text, "");  // the held "</e" was the start of the stop
}

TEST(StopMatcher, ReleasesHeldTextThatDidNotBecomeAStop) {
  StopMatcher m({"STOP"});
  EXPECT_EQ(m.Push("abc ST").text, "abc ");
  EXPECT_EQ(m.Push("ART").text, "START");
  EXPECT_EQ(m.Push("ST").text, "");
  EXPECT_EQ(m.Flush(), "ST");
}

TEST(StopMatcher, FindsTheEarliestOfSeveralStops) {
  StopMatcher m({"bb", "a"});
  const StopMatcher::Result r = m.Push("xxbbya");
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.text, "xx");
}

TEST(JsonRecognizer, AcceptsObjectsByteByByte) {
  const std::string doc = R"({"a": [1, -2.5e+3, 0.0, true, null, "x\u00e9\n"], "b": {"c": {}}, "d": []})";
  JsonRecognizer j;
  for (char c : doc) {
    ASSERT_TRUE(j.Feed(std::string(1, c))) << c;
  }
  EXPECT_TRUE(j.complete());
  EXPECT_FALSE(j.Feed(" "));  // nothing after the object
}

TEST(JsonRecognizer, RejectsWhatCanNeverBecomeAnObject) {
  for (const char* bad : {"[", "1", "{a", "{\"a\" 1", "{\"a\":01", "{\"a\":tru1", "{\"a\":1,}", "{\"a\":\"\x01",
                          "{\"a\":[1 2", "{\"a\":\"\\x", "{\"a\":-}", "}"}) {
    JsonRecognizer j;
    EXPECT_FALSE(j.Feed(bad)) << bad;
    EXPECT_TRUE(j.Feed("{")) << "a failed Feed leaves the state unchanged: " << bad;
  }
}

TEST(JsonRecognizer, BoundsWhitespaceSoOutputMustProgress) {
  JsonRecognizer j;
  EXPECT_FALSE(j.Feed(" "));  // nothing before the object
  ASSERT_TRUE(j.Feed("{"));
  EXPECT_TRUE(j.Feed(std::string(JsonRecognizer::kMaxWhitespaceRun, ' ')));
  EXPECT_FALSE(j.Feed(" "));
  EXPECT_TRUE(j.Feed("\"a\": \"" + std::string(100, ' ') + "\"}"));  // inside strings it is content
  EXPECT_TRUE(j.complete());
}

TEST(JsonRecognizer, BoundsNestingDepth) {
  JsonRecognizer j;
  ASSERT_TRUE(j.Feed("{\"a\":"));
  int accepted = 0;
  while (j.Feed("[")) ++accepted;
  EXPECT_EQ(accepted, JsonRecognizer::kMaxDepth - 1);
}

}  // namespace
}  // namespace tf
