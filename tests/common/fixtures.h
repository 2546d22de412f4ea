// Locating ../shared/fixtures. Tests that need it fail loudly when it is
// missing (CI always has it); nothing is skipped silently.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace tf::testing {

inline std::filesystem::path FixturesDir() {
  if (const char* env = std::getenv("TF_FIXTURES_DIR")) return env;
  return TF_FIXTURES_DIR;
}

// Path of a fixture file; records a failure if it does not exist.
inline std::string FixturePath(const std::string& relative) {
  const std::filesystem::path p = FixturesDir() / relative;
  EXPECT_TRUE(std::filesystem::exists(p)) << "fixture missing: " << p
                                          << " (set TF_FIXTURES_DIR or check ../shared/fixtures)";
  return p.string();
}

// A path in the test temp directory that no other test process uses
// (CTest runs tests in parallel, each in its own process).
inline std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "/tf-" + std::to_string(::getpid()) + "-" + name;
}

// A fixture model's name as a test name (gtest names allow no '-'); for
// INSTANTIATE_TEST_SUITE_P over model names.
struct FixtureModelTestName {
  template <typename Info>
  std::string operator()(const Info& info) const {
    std::string name = info.param;
    for (char& c : name) c = (c == '-') ? '_' : c;
    return name;
  }
};

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace tf::testing
