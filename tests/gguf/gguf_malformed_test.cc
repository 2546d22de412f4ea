// The reader against malformed files: a small valid file is assembled by hand
// (independently of GgufWriter) with the byte offset of every header field
// recorded, then truncated at every offset and corrupted field by field.
// Every case must give a clean error naming the field; none may crash.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <random>
#include <string>

#include "gguf/gguf_file.h"

namespace tf {
namespace {

class FileBuilder {
 public:
  template <typename T>
  size_t Put(T v) {
    const size_t at = bytes.size();
    bytes.append(reinterpret_cast<const char*>(&v), sizeof(T));
    return at;
  }
  size_t PutString(const std::string& s) {
    const size_t at = Put<uint64_t>(s.size());
    bytes += s;
    return at;
  }
  void PadTo(size_t alignment) {
    while (bytes.size() % alignment != 0) bytes.push_back('\0');
  }
  std::string bytes;
  std::map<std::string, size_t> at;  // field name -> byte offset
};

// magic, version 3, 2 tensors, 3 kvs (u32, string, array of u32), tensor
// "w" f32 [8, 2] at 0 and "b" f32 [8] at 64, data section aligned to 32.
FileBuilder ValidFile() {
  FileBuilder b;
  b.at["magic"] = b.Put<uint32_t>(kGgufMagic);
  b.at["version"] = b.Put<uint32_t>(3);
  b.at["tensor_count"] = b.Put<uint64_t>(2);
  b.at["kv_count"] = b.Put<uint64_t>(3);
  b.at["kv0.key_len"] = b.PutString("general.alignment");
  b.at["kv0.type"] = b.Put<uint32_t>(4);
  b.at["kv0.value"] = b.Put<uint32_t>(32);
  b.at["kv1.key_len"] = b.PutString("general.name");
  b.at["kv1.type"] = b.Put<uint32_t>(8);
  b.at["kv1.value_len"] = b.PutString("tiny");
  b.at["kv2.key_len"] = b.PutString("list");
  b.at["kv2.type"] = b.Put<uint32_t>(9);
  b.at["kv2.elem_type"] = b.Put<uint32_t>(4);
  b.at["kv2.count"] = b.Put<uint64_t>(3);
  b.Put<uint32_t>(1);
  b.Put<uint32_t>(2);
  b.Put<uint32_t>(3);
  b.at["t0.name_len"] = b.PutString("w");
  b.at["t0.n_dims"] = b.Put<uint32_t>(2);
  b.at["t0.dim0"] = b.Put<uint64_t>(8);
  b.at["t0.dim1"] = b.Put<uint64_t>(2);
  b.at["t0.type"] = b.Put<uint32_t>(0);
  b.at["t0.offset"] = b.Put<uint64_t>(0);
  b.at["t1.name_len"] = b.PutString("b");
  b.at["t1.n_dims"] = b.Put<uint32_t>(1);
  b.at["t1.dim0"] = b.Put<uint64_t>(8);
  b.at["t1.type"] = b.Put<uint32_t>(0);
  b.at["t1.offset"] = b.Put<uint64_t>(64);
  b.PadTo(32);
  b.at["data"] = b.bytes.size();
  for (int i = 0; i < 16 + 8; ++i) b.Put<float>(static_cast<float>(i));
  return b;
}

StatusOr<std::unique_ptr<GgufFile>> ParseString(const std::string& bytes) {
  return GgufFile::Parse({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
}

template <typename T>
std::string Patched(const FileBuilder& b, const std::string& field, T value) {
  std::string out = b.bytes;
  std::memcpy(out.data() + b.at.at(field), &value, sizeof(T));
  return out;
}

// Parsing fails with DataLoss (or Unimplemented) and the message contains `needle`.
void ExpectError(const std::string& bytes, const std::string& needle) {
  auto file = ParseString(bytes);
  ASSERT_FALSE(file.ok()) << "expected an error mentioning '" << needle << "'";
  EXPECT_NE(file.status().message().find(needle), std::string::npos)
      << "message: " << file.status().message();
}

TEST(GgufMalformedTest, BaselineIsValid) {
  FileBuilder b = ValidFile();
  auto file = ParseString(b.bytes);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ((*file)->tensors().size(), 2u);
  EXPECT_EQ((*file)->data_offset(), b.at["data"]);
  auto w = *(*file)->FindView("w");
  float v;
  std::memcpy(&v, w.row(1), 4);
  EXPECT_EQ(v, 8.0f);
}

TEST(GgufMalformedTest, TruncationAtEveryOffsetIsAnError) {
  const std::string full = ValidFile().bytes;
  for (size_t len = 0; len < full.size(); ++len) {
    auto file = ParseString(full.substr(0, len));
    ASSERT_FALSE(file.ok()) << "truncated to " << len << " bytes parsed";
    EXPECT_EQ(file.status().code(), StatusCode::kDataLoss) << len;
    EXPECT_NE(file.status().message().find("byte"), std::string::npos)
        << "no offset in: " << file.status().message();
  }
}

TEST(GgufMalformedTest, HeaderFields) {
  FileBuilder b = ValidFile();
  ExpectError(Patched<uint32_t>(b, "magic", 0x46554746), "magic at byte 0");
  ExpectError(Patched<uint32_t>(b, "version", 1), "v1 is not supported");
  ExpectError(Patched<uint32_t>(b, "version", 4), "version at byte 4: expected 2 or 3, file has 4");
  ExpectError(Patched<uint32_t>(b, "version", 0x03000000), "big-endian");
  ExpectError(Patched<uint64_t>(b, "tensor_count", ~0ull), "tensor count at byte 8");
  ExpectError(Patched<uint64_t>(b, "tensor_count", 1ull << 62), "tensor count at byte 8");
  ExpectError(Patched<uint64_t>(b, "kv_count", ~0ull), "metadata count at byte 16");
  ExpectError(Patched<uint64_t>(b, "kv_count", 1000), "");
}

TEST(GgufMalformedTest, MetadataFields) {
  FileBuilder b = ValidFile();
  ExpectError(Patched<uint64_t>(b, "kv0.key_len", ~0ull), "exceeds the");
  ExpectError(Patched<uint64_t>(b, "kv0.key_len", 1ull << 40), "string length 1099511627776");
  ExpectError(Patched<uint32_t>(b, "kv0.type", 13), "unknown value type 13");
  ExpectError(Patched<uint32_t>(b, "kv0.type", 0xFFFFFFFF), "unknown value type 4294967295");
  ExpectError(Patched<uint64_t>(b, "kv1.value_len", 1ull << 63), "value of key 'general.name'");
  ExpectError(Patched<uint32_t>(b, "kv2.elem_type", 99), "unknown array element type 99");
  ExpectError(Patched<uint64_t>(b, "kv2.count", ~0ull), "array of 18446744073709551615 u32");
  ExpectError(Patched<uint64_t>(b, "kv2.count", (~0ull) / 4 + 1), "needs at least 4 bytes");
  // The array's elements become strings: element lengths read from the file.
  ExpectError(Patched<uint32_t>(b, "kv2.elem_type", 8), "");
}

TEST(GgufMalformedTest, AlignmentMustBeAPowerOfTwo) {
  FileBuilder b = ValidFile();
  ExpectError(Patched<uint32_t>(b, "kv0.value", 0), "0 is not a power of two");
  ExpectError(Patched<uint32_t>(b, "kv0.value", 48), "48 is not a power of two");
  // 2^31 is a power of two but puts the data section past the end.
  ExpectError(Patched<uint32_t>(b, "kv0.value", 1u << 31), "past end of file");
  ExpectError(Patched<uint32_t>(b, "kv0.type", 5), "general.alignment': expected u32");
}

TEST(GgufMalformedTest, TensorInfoFields) {
  FileBuilder b = ValidFile();
  ExpectError(Patched<uint64_t>(b, "t0.name_len", 1ull << 50), "name of tensor info");
  ExpectError(Patched<uint32_t>(b, "t0.n_dims", 0), "n_dims is 0");
  ExpectError(Patched<uint32_t>(b, "t0.n_dims", 5), "n_dims is 5");
  ExpectError(Patched<uint32_t>(b, "t0.n_dims", 0xFFFFFFFF), "n_dims is 4294967295");
  ExpectError(Patched<uint64_t>(b, "t0.dim0", 0), "dim 0 is 0");
  ExpectError(Patched<uint64_t>(b, "t0.dim1", 1ull << 63), "dim 1 is 9223372036854775808");
  {
    std::string bytes = Patched<uint64_t>(b, "t0.dim0", 1ull << 40);
    std::memcpy(bytes.data() + b.at["t0.dim1"], "\0\0\0\0\0\0\x10\0", 8);  // 2^52
    ExpectError(bytes, "element count overflows");
  }
  ExpectError(Patched<uint64_t>(b, "t0.dim0", 1ull << 40), "past end of file");
  ExpectError(Patched<uint32_t>(b, "t0.type", 4), "unknown tensor type 4");
  ExpectError(Patched<uint32_t>(b, "t0.type", 1000), "unknown tensor type 1000");
  ExpectError(Patched<uint32_t>(b, "t0.type", 2), "not a multiple of the q4_0 block size 32");
  ExpectError(Patched<uint64_t>(b, "t0.offset", 16), "not a multiple of the alignment");
  ExpectError(Patched<uint64_t>(b, "t0.offset", 1ull << 62), "past end of file");
  ExpectError(Patched<uint64_t>(b, "t0.offset", ~0ull - 31), "past end of file");
  ExpectError(Patched<uint64_t>(b, "t1.offset", 32), "overlaps");
  ExpectError(Patched<uint64_t>(b, "t1.offset", 96), "past end of file");
}

TEST(GgufMalformedTest, DuplicateNames) {
  FileBuilder b = ValidFile();
  std::string dup_tensor = b.bytes;
  dup_tensor[b.at["t1.name_len"] + 8] = 'w';
  ExpectError(dup_tensor, "duplicate tensor name 'w'");
  std::string dup_key = b.bytes;
  std::memcpy(dup_key.data() + b.at["kv2.key_len"] + 8, "gene", 4);  // "list" -> "gene"
  EXPECT_TRUE(ParseString(dup_key).ok());
  // Rename kv1 to "general.alignment" is not possible in place; build one.
  FileBuilder d;
  d.Put<uint32_t>(kGgufMagic);
  d.Put<uint32_t>(3);
  d.Put<uint64_t>(0);
  d.Put<uint64_t>(2);
  for (int i = 0; i < 2; ++i) {
    d.PutString("k");
    d.Put<uint32_t>(0);
    d.Put<uint8_t>(1);
  }
  ExpectError(d.bytes, "duplicate key 'k'");
}

TEST(GgufMalformedTest, DeeplyNestedArraysAreBounded) {
  FileBuilder d;
  d.Put<uint32_t>(kGgufMagic);
  d.Put<uint32_t>(3);
  d.Put<uint64_t>(0);
  d.Put<uint64_t>(1);
  d.PutString("deep");
  d.Put<uint32_t>(9);
  for (int i = 0; i < 10000; ++i) {
    d.Put<uint32_t>(9);
    d.Put<uint64_t>(1);
  }
  ExpectError(d.bytes, "nested deeper than");
}

TEST(GgufMalformedTest, BoolOtherThanZeroOrOne) {
  FileBuilder d;
  d.Put<uint32_t>(kGgufMagic);
  d.Put<uint32_t>(2);  // v2 is accepted
  d.Put<uint64_t>(0);
  d.Put<uint64_t>(1);
  d.PutString("flag");
  d.Put<uint32_t>(7);
  d.Put<uint8_t>(2);
  ExpectError(d.bytes, "bool must be 0 or 1");
  d.bytes.back() = 1;
  auto ok = ParseString(d.bytes);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ((*ok)->version(), 2u);
}

TEST(GgufMalformedTest, RandomCorruptionNeverCrashes) {
  const std::string full = ValidFile().bytes;
  std::mt19937 rng(1234);
  int errors = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string bytes = full;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      const size_t pos = rng() % bytes.size();
      bytes[pos] = static_cast<char>(rng() & 0xFF);
    }
    auto file = ParseString(bytes);
    if (!file.ok()) {
      ++errors;
      EXPECT_FALSE(file.status().message().empty());
    } else {
      // Whatever parsed must be internally consistent.
      for (const auto& t : (*file)->tensors()) {
        ASSERT_LE((*file)->data_offset() + t.offset + t.nbytes, bytes.size());
      }
    }
  }
  EXPECT_GT(errors, 1000);
}

}  // namespace
}  // namespace tf
