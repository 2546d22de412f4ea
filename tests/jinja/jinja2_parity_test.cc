// tokenfab's Jinja against the results Jinja2 gives (tests/jinja/
// jinja2_cases.json, which the `jinja2_reference` CTest re-checks against
// python3-jinja2 on every run): what the iterating filters and the other
// filters do with none and with undefined, for loops and `in` over them,
// and dict literals with non-string keys (their type kept for lookups,
// dictsort, items(), comparisons, printing and tojson). Output must match
// byte for byte; where Jinja2 raises, rendering must fail.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "jinja/chat_template.h"

namespace tf {
namespace {

nlohmann::ordered_json LoadCases() {
  std::ifstream in(TF_JINJA2_CASES);
  std::stringstream text;
  text << in.rdbuf();
  return nlohmann::ordered_json::parse(text.str(), nullptr, false);
}

TEST(Jinja2ParityTest, EveryCaseRendersAsJinja2Does) {
  const nlohmann::ordered_json file = LoadCases();
  ASSERT_FALSE(file.is_discarded()) << "cannot read " << TF_JINJA2_CASES;
  const auto& cases = file["cases"];
  ASSERT_GT(cases.size(), 100u);
  int agreed = 0;
  for (const auto& c : cases) {
    const std::string source = c["template"].get<std::string>();
    SCOPED_TRACE(source);
    ChatTemplateInputs in;
    in.bos_token = "<s>";
    in.eos_token = "</s>";
    in.tools = nullptr;
    if (c.contains("vars")) {
      for (const auto& [key, value] : c["vars"].items()) {
        if (key == "tools") in.tools = value;
        else if (key == "messages") in.messages = value;
        else in.extra[key] = value;
      }
    }
    auto tmpl = ChatTemplate::Parse(source);
    StatusOr<std::string> out = tmpl.ok() ? (*tmpl)->Render(in) : StatusOr<std::string>(tmpl.status());
    if (c.value("expect_error", false)) {
      EXPECT_FALSE(out.ok()) << "Jinja2 raises; tokenfab rendered '" << (out.ok() ? *out : "") << "'";
      agreed += !out.ok();
    } else {
      ASSERT_TRUE(c.contains("expect"));
      const std::string want = c["expect"].get<std::string>();
      EXPECT_TRUE(out.ok()) << out.status().message();
      if (out.ok()) {
        EXPECT_EQ(*out, want);
        agreed += *out == want;
      }
    }
  }
  RecordProperty("cases_agreeing", agreed);
}

}  // namespace
}  // namespace tf
