// Metadata overrides (--override-kv KEY=TYPE:VALUE): every type parses, every
// malformed spec is an error naming what is wrong, and applying them to a
// parsed file replaces or adds keys without changing a key's kind.
#include <gtest/gtest.h>

#include <string>

#include "gguf/gguf_file.h"
#include "gguf/gguf_override.h"
#include "gguf/gguf_writer.h"

namespace tf {
namespace {

TEST(GgufOverrideTest, ParsesEveryType) {
  auto i = ParseGgufOverride("deepseek2.expert_group_count=int:-8");
  ASSERT_TRUE(i.ok()) << i.status().ToString();
  EXPECT_EQ(i->key, "deepseek2.expert_group_count");
  EXPECT_EQ(i->value.type(), GgufType::kInt64);
  EXPECT_EQ(*i->value.AsInt(), -8);

  auto f = ParseGgufOverride("llama.rope.freq_base=float:5e5");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->value.type(), GgufType::kFloat64);
  EXPECT_EQ(*f->value.AsFloat(), 500000.0);

  auto b = ParseGgufOverride("tokenizer.ggml.add_bos_token=bool:false");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(*b->value.AsBool(), false);

  // Only the first '=' and the first ':' after it separate; the rest is value.
  auto s = ParseGgufOverride("general.name=str:a=b:c");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(*s->value.AsString(), "a=b:c");
  auto empty = ParseGgufOverride("general.name=str:");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty->value.AsString(), "");
}

TEST(GgufOverrideTest, MalformedSpecsAreErrorsNamingTheProblem) {
  const struct {
    std::string spec;
    std::string message_part;
  } cases[] = {
      {"no-equals-sign", "expected KEY=TYPE:VALUE"},
      {"=int:1", "expected KEY=TYPE:VALUE"},
      {"a.b=int", "expected TYPE:VALUE"},
      {"a.b=u32:1", "not one of int, float, bool, str"},
      {"a.b=int:", "is not an integer"},
      {"a.b=int:12x", "is not an integer"},
      {"a.b=int: 12", "is not an integer"},
      {"a.b=int:99999999999999999999", "outside the 64-bit integer range"},
      {"a.b=float:abc", "is not a number"},
      {"a.b=float:\t1", "is not a number"},
      {"a.b=float:nan", "not a finite double"},
      {"a.b=float:inf", "not a finite double"},
      {"a.b=float:1e999", "not a finite double"},
      {"a.b=bool:yes", "true or false"},
      {"a.b=bool:1", "true or false"},
      {std::string(300, 'k') + "=int:1", "key of 300 bytes"},
  };
  for (const auto& c : cases) {
    auto r = ParseGgufOverride(c.spec);
    ASSERT_FALSE(r.ok()) << c.spec;
    EXPECT_NE(r.status().message().find(c.message_part), std::string::npos)
        << c.spec << " -> " << r.status().ToString();
  }
}

class GgufOverrideApplyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    GgufWriter w;
    w.SetU32("model.groups", 4);
    w.SetF32("model.eps", 1e-6f);
    w.SetBool("model.flag", true);
    w.SetString("general.name", "tiny");
    w.Set("model.list", MakeInt32Array({1, 2}));
    auto bytes = w.WriteToString();
    ASSERT_TRUE(bytes.ok());
    bytes_ = std::move(*bytes);
    auto f = GgufFile::Parse({reinterpret_cast<const uint8_t*>(bytes_.data()), bytes_.size()});
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    file_ = std::move(*f);
  }
  std::string bytes_;
  std::unique_ptr<GgufFile> file_;
};

TEST_F(GgufOverrideApplyTest, ReplacesAndAddsKeysInOrder) {
  const size_t keys_before = file_->metadata().size();
  ASSERT_TRUE(ApplyGgufOverrides({"model.groups=int:2", "model.eps=float:1e-5", "model.flag=bool:false",
                                  "general.name=str:renamed", "model.new_key=int:7", "model.groups=int:3"},
                                 file_.get())
                  .ok());
  EXPECT_EQ(*file_->GetInt("model.groups"), 3);  // the later spec wins
  EXPECT_DOUBLE_EQ(*file_->GetFloat("model.eps"), 1e-5);
  EXPECT_EQ(*file_->GetBool("model.flag"), false);
  EXPECT_EQ(*file_->GetString("general.name"), "renamed");
  EXPECT_EQ(*file_->GetInt("model.new_key"), 7);
  EXPECT_EQ(file_->metadata().size(), keys_before + 1);
  EXPECT_EQ(file_->metadata().back().key, "model.new_key");
}

TEST_F(GgufOverrideApplyTest, AKeyKeepsItsKind) {
  const struct {
    std::string spec;
    std::string message_part;
  } cases[] = {
      {"model.groups=float:2", "the file stores u32, the override is f64"},
      {"model.groups=str:2", "the file stores u32, the override is string"},
      {"model.eps=int:1", "the file stores f32, the override is i64"},
      {"model.flag=int:0", "the file stores bool"},
      {"general.name=bool:true", "the file stores string"},
      {"model.list=int:1", "the file stores array"},
      {"general.alignment=int:64", "layout depends on it"},
  };
  for (const auto& c : cases) {
    Status st = ApplyGgufOverrides({c.spec}, file_.get());
    ASSERT_FALSE(st.ok()) << c.spec;
    EXPECT_NE(st.message().find(c.message_part), std::string::npos) << c.spec << " -> " << st.ToString();
  }
  EXPECT_EQ(*file_->GetInt("model.groups"), 4);  // a rejected override changes nothing
  EXPECT_EQ(file_->Find("general.alignment"), nullptr);
}

TEST_F(GgufOverrideApplyTest, StopsAtTheFirstBadSpec) {
  Status st = ApplyGgufOverrides({"model.groups=int:2", "model.eps=bogus", "model.flag=bool:false"}, file_.get());
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(*file_->GetInt("model.groups"), 2);
  EXPECT_EQ(*file_->GetBool("model.flag"), true);
}

TEST(GgufOverrideTest, DescribeJoinsTheSpecs) {
  EXPECT_EQ(DescribeGgufOverrides({}), "");
  EXPECT_EQ(DescribeGgufOverrides({"a=int:1", "b=str:x"}), "a=int:1;b=str:x");
}

}  // namespace
}  // namespace tf
