// Writer -> reader round trip of every metadata type (nested arrays too) and
// of tensor data, plus reading the real fixture files.
#include <gtest/gtest.h>

#include "common/fixtures.h"

#include <cstring>
#include <filesystem>

#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "tensor/float16.h"

namespace tf {
namespace {

std::span<const uint8_t> AsBytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(GgufRoundTripTest, EveryValueTypeSurvives) {
  GgufWriter w;
  w.Set("u8", GgufValue(uint8_t{200}));
  w.Set("i8", GgufValue(int8_t{-100}));
  w.Set("u16", GgufValue(uint16_t{60000}));
  w.Set("i16", GgufValue(int16_t{-30000}));
  w.Set("u32", GgufValue(uint32_t{4000000000u}));
  w.Set("i32", GgufValue(int32_t{-2000000000}));
  w.Set("f32", GgufValue(1.5f));
  w.Set("bool", GgufValue(true));
  w.Set("str", GgufValue(std::string("héllo\0x", 7)));
  w.Set("u64", GgufValue(uint64_t{18000000000000000000ull}));
  w.Set("i64", GgufValue(int64_t{-9000000000000000000ll}));
  w.Set("f64", GgufValue(2.25));
  w.Set("strs", MakeStringArray({"a", "", "ccc"}));
  w.Set("f32s", MakeFloat32Array({1.0f, -2.0f}));
  GgufArray nested;
  nested.elem_type = GgufType::kArray;
  nested.arrays.push_back(MakeInt32Array({1, 2, 3}));
  nested.arrays.push_back(MakeStringArray({"x"}));
  w.Set("nested", GgufValue(std::move(nested)));

  auto bytes = w.WriteToString();
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  auto file = GgufFile::Parse(AsBytes(*bytes));
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  const GgufFile& f = **file;
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(*f.GetInt("u8"), 200);
  EXPECT_EQ(*f.GetInt("i8"), -100);
  EXPECT_EQ(*f.GetInt("u16"), 60000);
  EXPECT_EQ(*f.GetInt("i16"), -30000);
  EXPECT_EQ(*f.GetInt("u32"), 4000000000ll);
  EXPECT_EQ(*f.GetInt("i32"), -2000000000);
  EXPECT_EQ(*f.GetFloat("f32"), 1.5);
  EXPECT_EQ(*f.GetBool("bool"), true);
  EXPECT_EQ(*f.GetString("str"), std::string("héllo\0x", 7));
  EXPECT_EQ(std::get<uint64_t>(f.Find("u64")->storage()), 18000000000000000000ull);
  EXPECT_FALSE(f.GetInt("u64").ok());  // does not fit int64: reported, not wrapped
  EXPECT_EQ(*f.GetInt("i64"), -9000000000000000000ll);
  EXPECT_EQ(*f.GetFloat("f64"), 2.25);
  const GgufArray* strs = *f.GetArray("strs");
  EXPECT_EQ(strs->strings, (std::vector<std::string>{"a", "", "ccc"}));
  const GgufArray* f32s = *f.GetArray("f32s");
  EXPECT_EQ(*f32s->FloatAt(1), -2.0);
  const GgufArray* n = *f.GetArray("nested");
  ASSERT_EQ(n->size(), 2u);
  EXPECT_EQ(*n->arrays[0].AsArray()->IntAt(2), 3);
  EXPECT_EQ(n->arrays[1].AsArray()->strings[0], "x");
  // Order of keys is the order written.
  EXPECT_EQ(f.metadata().front().key, "u8");
  EXPECT_EQ(f.metadata().back().key, "nested");
}

TEST(GgufRoundTripTest, TypedGettersReportWrongTypeAndMissingKeys) {
  GgufWriter w;
  w.SetString("name", "x");
  auto bytes = *w.WriteToString();
  auto f = *GgufFile::Parse(AsBytes(bytes));
  auto as_int = f->GetInt("name");
  ASSERT_FALSE(as_int.ok());
  EXPECT_EQ(as_int.status().message(), "key 'name': expected an integer, file has string");
  EXPECT_EQ(f->GetInt("absent").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(*f->GetIntOr("absent", 7), 7);
  EXPECT_FALSE(f->GetIntOr("name", 7).ok());
}

TEST(GgufRoundTripTest, TensorsAreAlignedViewsOfTheirData) {
  for (uint32_t alignment : {32u, 64u, 1u}) {
    GgufWriter w(alignment);
    std::vector<float> a = {1, 2, 3, 4, 5, 6};
    std::vector<uint16_t> b(64);
    for (int i = 0; i < 64; ++i) b[i] = FloatToFp16(static_cast<float>(i));
    ASSERT_TRUE(w.AddTensorData("a", DType::kF32, {3, 2},
                                {reinterpret_cast<uint8_t*>(a.data()), a.size() * 4}).ok());
    ASSERT_TRUE(w.AddTensorData("b", DType::kF16, {32, 1, 2},
                                {reinterpret_cast<uint8_t*>(b.data()), b.size() * 2}).ok());
    auto bytes = *w.WriteToString();
    auto file = GgufFile::Parse(AsBytes(bytes));
    ASSERT_TRUE(file.ok()) << file.status().ToString();
    EXPECT_EQ((*file)->alignment(), alignment);
    auto va = *(*file)->FindView("a");
    EXPECT_EQ(va.ne[0], 3);
    EXPECT_EQ(va.ne[1], 2);
    EXPECT_EQ(va.n_dims, 2);
    EXPECT_EQ(std::memcmp(va.data, a.data(), 24), 0);
    auto vb = *(*file)->FindView("b");
    EXPECT_EQ(vb.n_dims, 3);
    EXPECT_EQ((reinterpret_cast<uintptr_t>(vb.data) - reinterpret_cast<uintptr_t>(bytes.data())) % alignment, 0u);
    EXPECT_EQ(std::memcmp(vb.Matrix(1).data, b.data() + 32, 64), 0);
  }
}

TEST(GgufRoundTripTest, WriterRejectsBadShapes) {
  GgufWriter w;
  auto noop = [](std::span<uint8_t>) { return Status::Ok(); };
  EXPECT_FALSE(w.AddTensor("q", DType::kQ4_0, {33}, noop).ok());
  EXPECT_FALSE(w.AddTensor("z", DType::kF32, {0}, noop).ok());
  EXPECT_FALSE(w.AddTensor("five", DType::kF32, {1, 1, 1, 1, 1}, noop).ok());
  EXPECT_TRUE(w.AddTensor("ok", DType::kF32, {1}, noop).ok());
  EXPECT_FALSE(w.AddTensor("ok", DType::kF32, {1}, noop).ok());
}

TEST(GgufRoundTripTest, WritesFileAtomically) {
  const std::string path = testing::TempPath("roundtrip.gguf");
  GgufWriter w;
  w.SetString("general.architecture", "llama");
  ASSERT_TRUE(w.WriteFile(path).ok());
  auto file = GgufFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ(*(*file)->GetString("general.architecture"), "llama");
  const std::string file_name = std::filesystem::path(path).filename().string();
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(path).parent_path()))
    EXPECT_NE(entry.path().filename().string().rfind(file_name + ".tmp", 0), 0u) << "left behind: " << entry.path();
}

TEST(GgufFixturesTest, EveryFixtureFileParses) {
  const std::filesystem::path root(TF_FIXTURES_DIR);
  ASSERT_TRUE(std::filesystem::exists(root)) << "fixtures missing at " << root;
  int parsed = 0;
  for (const char* dir : {"models", "vocab"}) {
    for (const auto& entry : std::filesystem::directory_iterator(root / dir)) {
      if (entry.path().extension() != ".gguf") continue;
      auto file = GgufFile::Open(entry.path());
      ASSERT_TRUE(file.ok()) << entry.path() << ": " << file.status().ToString();
      EXPECT_TRUE((*file)->GetString("general.architecture").ok()) << entry.path();
      ++parsed;
    }
  }
  EXPECT_EQ(parsed, 17);
}

}  // namespace
}  // namespace tf
