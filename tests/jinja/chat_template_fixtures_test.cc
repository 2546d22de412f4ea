// Every case of every ../shared/fixtures/chat_templates/*.json: the render
// equals the Hugging Face reference byte for byte, and cases where the
// template raises give an error, not text.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/fixtures.h"
#include "jinja/chat_template.h"

namespace tf {
namespace {

std::vector<std::string> TemplateFixtures() {
  std::vector<std::string> out;
  const auto dir = testing::FixturesDir() / "chat_templates";
  if (!std::filesystem::exists(dir)) return {"<fixtures missing>"};
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".json") out.push_back(e.path().stem().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

class ChatTemplateFixtureTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ChatTemplateFixtureTest, EveryCaseRendersLikeTheReference) {
  ASSERT_NE(GetParam(), "<fixtures missing>") << testing::FixturesDir();
  const auto spec = nlohmann::ordered_json::parse(testing::ReadFile(testing::FixturePath("chat_templates/" + GetParam() + ".json")));
  const std::string source = testing::ReadFile(testing::FixturePath("chat_templates/" + spec["template_file"].get<std::string>()));
  auto tmpl = ChatTemplate::Parse(source);
  ASSERT_TRUE(tmpl.ok()) << tmpl.status().ToString();
  int passed = 0, index = 0;
  for (const auto& c : spec["cases"]) {
    ChatTemplateInputs in;
    in.messages = c["messages"];
    in.tools = c.contains("tools") ? c["tools"] : nlohmann::ordered_json();
    in.add_generation_prompt = c["add_generation_prompt"].get<bool>();
    in.bos_token = spec["bos_token"].get<std::string>();
    in.eos_token = spec["eos_token"].get<std::string>();
    in.now = spec["now"].get<std::string>();
    auto out = (*tmpl)->Render(in);
    const std::string label = c["name"].get<std::string>() + " #" + std::to_string(index++) +
                              (in.add_generation_prompt ? " (generation prompt)" : "");
    if (c.contains("error")) {
      EXPECT_FALSE(out.ok()) << label << ": expected an error, rendered:\n" << *out;
      passed += !out.ok();
      continue;
    }
    ASSERT_TRUE(out.ok()) << label << ": " << out.status().ToString();
    EXPECT_EQ(*out, c["expected"].get<std::string>()) << label;
    passed += *out == c["expected"].get<std::string>();
  }
  EXPECT_EQ(passed, static_cast<int>(spec["cases"].size()));
}

INSTANTIATE_TEST_SUITE_P(AllTemplates, ChatTemplateFixtureTest, ::testing::ValuesIn(TemplateFixtures()),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return n;
                         });

TEST(ChatTemplateFixtureCoverageTest, AllTwentyTwoTemplatesAreFound) {
  EXPECT_EQ(TemplateFixtures().size(), 22u);
}

}  // namespace
}  // namespace tf
