#include "base/atomic_file.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace tf {
namespace {

namespace fs = std::filesystem;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class AtomicFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tf-atomic-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  size_t Entries() const {
    return static_cast<size_t>(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()));
  }
  std::string dir_;
};

TEST_F(AtomicFileTest, WritesAndReplacesWholeFiles) {
  const std::string path = dir_ + "/f";
  ASSERT_TRUE(WriteFileAtomically(path, "first version").ok());
  EXPECT_EQ(Slurp(path), "first version");
  ASSERT_TRUE(WriteFileAtomically(path, [](const ByteSink& sink) {
                TF_RETURN_IF_ERROR(sink("sec"));
                return sink("ond");
              }).ok());
  EXPECT_EQ(Slurp(path), "second");
  EXPECT_EQ(Entries(), 1u) << "no temporary left behind";
}

TEST_F(AtomicFileTest, AFailedWriteLeavesTheOldFileAndNoTemporary) {
  const std::string path = dir_ + "/f";
  ASSERT_TRUE(WriteFileAtomically(path, "kept").ok());
  const Status s = WriteFileAtomically(path, [](const ByteSink& sink) {
    TF_RETURN_IF_ERROR(sink("half of a new "));
    return IoError("producer failed");
  });
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "producer failed");
  EXPECT_EQ(Slurp(path), "kept");
  EXPECT_EQ(Entries(), 1u);
}

TEST_F(AtomicFileTest, AMissingDirectoryIsAnErrorNamingThePath) {
  const Status s = WriteFileAtomically(dir_ + "/no/such/dir/f", "x");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("no/such/dir/f.tmp."), std::string::npos) << s.message();
}

}  // namespace
}  // namespace tf
