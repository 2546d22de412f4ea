// <think> blocks go to reasoning_content, however the tags are split.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "server/reasoning_splitter.h"

namespace tf {
namespace {

ReasoningSplitter::Parts Feed(ReasoningSplitter* s, const std::vector<std::string>& pieces) {
  ReasoningSplitter::Parts all;
  for (const std::string& p : pieces) {
    auto parts = s->Push(p);
    all.reasoning += parts.reasoning;
    all.content += parts.content;
  }
  auto rest = s->Flush();
  all.reasoning += rest.reasoning;
  all.content += rest.content;
  return all;
}

TEST(ReasoningSplitter, SplitsThinkBlocksAcrossAnyPieceBoundaries) {
  const std::string text = "<think>\nweigh it</think>\n\nThe answer.";
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    ReasoningSplitter s(false);
    const auto parts = Feed(&s, {text.substr(0, cut), text.substr(cut)});
    EXPECT_EQ(parts.reasoning, "\nweigh it") << cut;
    EXPECT_EQ(parts.content, "The answer.") << cut;
  }
}

TEST(ReasoningSplitter, PromptThatOpenedThinkAndPlainOutput) {
  ReasoningSplitter opened(true);
  auto parts = Feed(&opened, {"step 1 </th", "ink>done"});
  EXPECT_EQ(parts.reasoning, "step 1 ");
  EXPECT_EQ(parts.content, "done");
  ReasoningSplitter plain(false);
  parts = Feed(&plain, {"<thi", "s is not a tag"});
  EXPECT_EQ(parts.reasoning, "");
  EXPECT_EQ(parts.content, "<this is not a tag");
  ReasoningSplitter unfinished(false);
  parts = Feed(&unfinished, {"<think>never closed"});
  EXPECT_EQ(parts.reasoning, "never closed");
  EXPECT_EQ(parts.content, "");
}

}  // namespace
}  // namespace tf
