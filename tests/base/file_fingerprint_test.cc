#include "base/file_fingerprint.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace tf {
namespace {

namespace fs = std::filesystem;

class FileFingerprintTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tf-fingerprint-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& bytes) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
    return path;
  }
  static std::string RandomBytes(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::string s(n, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    return s;
  }
  static std::string OneShotHex(const std::string& bytes) {
    const XXH128_hash_t h = XXH3_128bits(bytes.data(), bytes.size());
    return fmt::format("{:016x}{:016x}", h.high64, h.low64);
  }
  std::string dir_;
};

TEST_F(FileFingerprintTest, HashesEveryByteAcrossReadChunks) {
  // 8 MiB reads: 20 MiB + 3 bytes spans three chunks and a ragged tail.
  const std::string bytes = RandomBytes((20u << 20) + 3, 1);
  const std::string path = Write("big.gguf", bytes);
  EXPECT_EQ(*HashFileContent(path), OneShotHex(bytes));
  EXPECT_EQ(*HashFileContent(Write("empty", "")), OneShotHex(""));
}

TEST_F(FileFingerprintTest, FollowsContentNotPath) {
  const std::string a = RandomBytes(4096, 2);
  std::string b = a;
  b[1234] ^= 1;  // same size, one bit apart
  const auto fa = FingerprintFile(Write("a.gguf", a));
  const auto fa_copy = FingerprintFile(Write("copy-of-a.gguf", a));
  const auto fb = FingerprintFile(Write("b.gguf", b));
  ASSERT_TRUE(fa.ok() && fa_copy.ok() && fb.ok());
  EXPECT_EQ(fa->hex, fa_copy->hex);
  EXPECT_NE(fa->hex, fb->hex);
  EXPECT_EQ(fa->hex.size(), 32u);
}

TEST_F(FileFingerprintTest, CachesBesideTheFileUntilItChanges) {
  const std::string path = Write("m.gguf", RandomBytes(10000, 3));
  const auto cold = FingerprintFile(path);
  ASSERT_TRUE(cold.ok()) << cold.status().message();
  EXPECT_FALSE(cold->from_cache);
  ASSERT_TRUE(fs::exists(FingerprintSidecarPath(path)));
  const auto warm = FingerprintFile(path);
  ASSERT_TRUE(warm.ok());
  EXPECT_TRUE(warm->from_cache);
  EXPECT_EQ(warm->hex, cold->hex);

  // Another model of the same size written over the same path: the identity
  // (inode or mtime) changes, so the stale sidecar is not believed.
  const std::string replacement = RandomBytes(10000, 4);
  fs::remove(path);
  Write("m.gguf", replacement);
  const auto after = FingerprintFile(path);
  ASSERT_TRUE(after.ok());
  EXPECT_FALSE(after->from_cache);
  EXPECT_EQ(after->hex, OneShotHex(replacement));
  EXPECT_TRUE(FingerprintFile(path)->from_cache);
}

TEST_F(FileFingerprintTest, ContentRewrittenInPlaceWithANewMtimeIsRehashed) {
  const std::string path = Write("m.gguf", RandomBytes(5000, 5));
  ASSERT_TRUE(FingerprintFile(path).ok());
  const std::string other = RandomBytes(5000, 6);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << other;  // same inode, same size
  struct timespec times[2] = {{0, UTIME_OMIT}, {12345, 678}};       // a distinct mtime
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  const auto again = FingerprintFile(path);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->from_cache);
  EXPECT_EQ(again->hex, OneShotHex(other));
}

TEST_F(FileFingerprintTest, ABrokenOrForeignSidecarIsRecomputedAndReplaced) {
  const std::string bytes = RandomBytes(3000, 7);
  const std::string path = Write("m.gguf", bytes);
  const std::string sidecar = FingerprintSidecarPath(path);
  const FileIdentity id = *StatFileIdentity(path);
  for (const std::string& bad : {std::string("garbage"), std::string(""),
                                 FormatFingerprintSidecar(id, std::string(32, 'a')).substr(0, 40),
                                 FormatFingerprintSidecar({id.device, id.inode + 1, id.size_bytes, id.mtime_ns},
                                                          std::string(32, 'a'))}) {
    std::ofstream(sidecar, std::ios::binary | std::ios::trunc) << bad;
    const auto f = FingerprintFile(path);
    ASSERT_TRUE(f.ok());
    EXPECT_FALSE(f->from_cache) << "sidecar: " << bad;
    EXPECT_EQ(f->hex, OneShotHex(bytes));
    EXPECT_TRUE(FingerprintFile(path)->from_cache);
  }
}

TEST_F(FileFingerprintTest, WithoutCachingNoSidecarIsWritten) {
  const std::string path = Write("m.gguf", "abc");
  ASSERT_TRUE(FingerprintFile(path, /*write_cache=*/false).ok());
  EXPECT_FALSE(fs::exists(FingerprintSidecarPath(path)));
}

TEST_F(FileFingerprintTest, ADirectoryMarkedReadOnlyIsLeftAloneEvenByRoot) {
  const std::string sub = dir_ + "/ro";
  fs::create_directory(sub);
  const std::string path = sub + "/m.gguf";
  std::ofstream(path, std::ios::binary) << "weights";
  ASSERT_EQ(::chmod(sub.c_str(), 0555), 0);
  const auto f = FingerprintFile(path);
  ::chmod(sub.c_str(), 0755);
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f->hex, OneShotHex("weights"));
  EXPECT_EQ(std::distance(fs::directory_iterator(sub), fs::directory_iterator()), 1) << "nothing written beside it";
}

TEST_F(FileFingerprintTest, MissingFilesAndDirectoriesAreErrorsNamingThePath) {
  const auto missing = FingerprintFile(dir_ + "/nope.gguf");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("nope.gguf"), std::string::npos);
  const auto directory = FingerprintFile(dir_);
  ASSERT_FALSE(directory.ok());
  EXPECT_NE(directory.status().message().find("not a regular file"), std::string::npos);
}

TEST(FingerprintSidecarTest, ParsesExactlyWhatItFormats) {
  const FileIdentity id{2049, 77, 1 << 20, 1700000000123456789};
  const std::string hex = "0123456789abcdef0123456789abcdef";
  const std::string line = FormatFingerprintSidecar(id, hex);
  const auto parsed = ParseFingerprintSidecar(line);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->first, id);
  EXPECT_EQ(parsed->second, hex);
  const std::string upper = "0123456789ABCDEF0123456789abcdef";
  for (const std::string& bad :
       {line + "x", line.substr(0, line.size() - 1), FormatFingerprintSidecar(id, upper),
        FormatFingerprintSidecar(id, hex.substr(1)), std::string("tokenfab-fingerprint-v2") + line.substr(23),
        fmt::format("tokenfab-fingerprint-v1 dev=+2049 ino=77 size=1048576 mtime_ns=1 xxh3_128={}\n", hex),
        fmt::format("tokenfab-fingerprint-v1 dev=2049 ino=77 size=99999999999999999999 mtime_ns=1 xxh3_128={}\n",
                    hex),
        fmt::format("tokenfab-fingerprint-v1  dev=2049 ino=77 size=1 mtime_ns=1 xxh3_128={}\n", hex)}) {
    EXPECT_FALSE(ParseFingerprintSidecar(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace tf
