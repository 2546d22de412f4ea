// `tokenfab serve --kv-store` as real processes: a restarted server serves a
// prompt from the store, a `kill -9` in the middle of write-back leaves
// nothing corrupt served and a store that keeps working, two servers share
// one directory, and a directory other users can write is refused.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "common/child_process.h"
#include "common/fixtures.h"
#include "server/test_http.h"

namespace tf {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using testing::Call;
using testing::ScrapeMetric;

// One `tokenfab serve` child process on a free loopback port.
class ServerProcess {
 public:
  ServerProcess(const std::vector<std::string>& extra_args, const std::string& name) {
    std::vector<std::string> args = {TOKENFAB_BIN, "serve", "-m",
                                     testing::FixturePath("models/tiny-llama-spm-q8_0.gguf"), "--port", "0",
                                     "--served-model-name", "tiny", "--ctx-size", "1024", "-t", "1"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    process_.Start(args, name);
  }
  // Waits for the port and a healthy model; false when the process exited.
  bool WaitReady() {
    if (port_ == 0) {
      const std::string port = process_.WaitForLog("listening on http://127\\.0\\.0\\.1:([0-9]+)", std::chrono::seconds(30));
      if (port.empty()) return false;
      port_ = static_cast<uint16_t>(std::stoi(port));
    }
    for (int i = 0; i < 600; ++i) {
      if (Call(port_, "GET", "/health").status == 200) return true;
      if (Exited()) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  bool Exited() { return !process_.running(); }
  // Sends `signal` and reaps the process; its wait status.
  int Kill(int signal) { return process_.Kill(signal); }
  uint16_t port() const { return port_; }
  std::string log() const { return process_.log(); }

 private:
  testing::ChildProcess process_;
  uint16_t port_ = 0;
};

// A prompt of `n` token ids from the fixture's vocabulary.
Json TokenPrompt(int n, int salt) {
  Json ids = Json::array();
  for (int i = 0; i < n; ++i) ids.push_back(100 + (i * 37 + salt * 11) % 20000);
  return ids;
}

struct Completion {
  int status = 0;
  std::string text;
  int64_t cached_tokens = -1;
};

Completion Complete(uint16_t port, const Json& prompt, int max_tokens) {
  const Json body = {{"model", "tiny"}, {"prompt", prompt}, {"max_tokens", max_tokens}, {"temperature", 0},
                     {"ignore_eos", true}};
  const auto reply = Call(port, "POST", "/v1/completions", body.dump());
  Completion c;
  c.status = reply.status;
  if (reply.status != 200) return c;
  const Json j = Json::parse(reply.body);
  c.text = j["choices"][0]["text"];
  c.cached_tokens = j["usage"]["prompt_tokens_details"]["cached_tokens"];
  return c;
}

std::string FreshDir(const std::string& name) {
  const std::string dir = testing::TempPath(name);
  fs::remove_all(dir);
  return dir;
}

std::vector<fs::path> BlockFiles(const std::string& dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().size() == 64) files.push_back(e.path());
  }
  return files;
}

TEST(ServeStore, ARestartedServerServesThePromptFromTheStore) {
  const std::string dir = FreshDir("serve-store-restart");
  const Json prompt = TokenPrompt(300, 1);
  Completion cold;
  {
    ServerProcess a({"--kv-store", dir, "--kv-store-gib", "1"}, "serve-a");
    ASSERT_TRUE(a.WaitReady()) << a.log();
    cold = Complete(a.port(), prompt, 8);
    ASSERT_EQ(cold.status, 200);
    EXPECT_EQ(cold.cached_tokens, 0);
    EXPECT_EQ(a.Kill(SIGTERM), 0) << a.log();  // graceful: queued writes are flushed
  }
  EXPECT_EQ(BlockFiles(dir).size(), (300 + 8 - 1) / 16u);
  ServerProcess b({"--kv-store", dir, "--kv-store-gib", "1"}, "serve-b");
  ASSERT_TRUE(b.WaitReady()) << b.log();
  EXPECT_NE(b.log().find("KV store " + dir + ": 19 block files"), std::string::npos) << b.log();
  const Completion warm = Complete(b.port(), prompt, 8);
  ASSERT_EQ(warm.status, 200);
  EXPECT_EQ(warm.text, cold.text);
  EXPECT_EQ(warm.cached_tokens, 288);  // 18 full blocks of the 300-token prompt
  EXPECT_EQ(ScrapeMetric(b.port(), "tokenfab_prefix_cache_hits_total{tier=\"store\"}"), 288);
  EXPECT_EQ(ScrapeMetric(b.port(), "tokenfab_prefix_cache_hits_total{tier=\"ram\"}"), 0);
  EXPECT_EQ(ScrapeMetric(b.port(), "tokenfab_kv_store_load_seconds_count"), 1);
  EXPECT_EQ(ScrapeMetric(b.port(), "tokenfab_kv_store_read_bytes_total"),
            18.0 * static_cast<double>(fs::file_size(BlockFiles(dir)[0])));
  // Asked again, the prompt is in RAM now.
  EXPECT_EQ(Complete(b.port(), prompt, 8).cached_tokens, 288);
  EXPECT_EQ(ScrapeMetric(b.port(), "tokenfab_prefix_cache_hits_total{tier=\"ram\"}"), 288);
}

TEST(ServeStore, KillNineDuringWriteBackThenRestartServesNothingCorrupt) {
  const std::string dir = FreshDir("serve-store-kill9");
  const Json prompt = TokenPrompt(400, 2);
  std::string reference;
  {
    ServerProcess plain({}, "serve-plain");
    ASSERT_TRUE(plain.WaitReady()) << plain.log();
    reference = Complete(plain.port(), prompt, 8).text;
    ASSERT_FALSE(reference.empty());
  }
  {
    ServerProcess a({"--kv-store", dir, "--kv-store-gib", "1"}, "serve-kill-a");
    ASSERT_TRUE(a.WaitReady()) << a.log();
    // A long generation keeps writing blocks; kill -9 while it does.
    std::thread client([&] { Complete(a.port(), prompt, 400); });
    for (int i = 0; i < 400 && BlockFiles(dir).size() < 30; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    a.Kill(SIGKILL);
    client.join();
  }
  auto files = BlockFiles(dir);
  ASSERT_GE(files.size(), 25u);
  // Written in chain order by one thread: the mtimes give the order.
  std::sort(files.begin(), files.end(),
            [](const fs::path& x, const fs::path& y) { return fs::last_write_time(x) < fs::last_write_time(y); });
  fs::resize_file(files[2], fs::file_size(files[2]) / 2);  // as a torn write after a power cut would leave it
  const std::string dead_temp = dir + "/" + files[0].filename().string() + ".tmp.4194305.7";
  std::ofstream(dead_temp) << "half a block";
  ServerProcess b({"--kv-store", dir, "--kv-store-gib", "1"}, "serve-kill-b");
  ASSERT_TRUE(b.WaitReady()) << b.log();
  for (const auto& e : fs::directory_iterator(dir)) {
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << "left over: " << e.path();
  }
  const Completion after = Complete(b.port(), prompt, 8);
  ASSERT_EQ(after.status, 200);
  EXPECT_EQ(after.text, reference);
  EXPECT_EQ(after.cached_tokens, 32) << "the chain ends at the torn third block";
  EXPECT_EQ(ScrapeMetric(b.port(), "tokenfab_kv_store_corrupt_blocks_total"), 1);
  b.Kill(SIGTERM);
  // The store keeps working: the recomputed blocks were written again.
  ServerProcess c({"--kv-store", dir, "--kv-store-gib", "1"}, "serve-kill-c");
  ASSERT_TRUE(c.WaitReady()) << c.log();
  const Completion again = Complete(c.port(), prompt, 8);
  EXPECT_EQ(again.text, reference);
  EXPECT_EQ(again.cached_tokens, 384);  // 24 full blocks of the 400-token prompt
}

TEST(ServeStore, TwoServersShareOneStoreDirectory) {
  const std::string dir = FreshDir("serve-store-shared");
  ServerProcess a({"--kv-store", dir, "--kv-store-gib", "1"}, "serve-shared-a");
  ServerProcess b({"--kv-store", dir, "--kv-store-gib", "1"}, "serve-shared-b");
  ASSERT_TRUE(a.WaitReady()) << a.log();
  ASSERT_TRUE(b.WaitReady()) << b.log();
  const Json prompt = TokenPrompt(200, 3);
  const Completion on_a = Complete(a.port(), prompt, 4);
  ASSERT_EQ(on_a.status, 200);
  // 203 tokens known: 12 full blocks, written by a's I/O thread.
  for (int i = 0; i < 500 && BlockFiles(dir).size() < 12; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const Completion on_b = Complete(b.port(), prompt, 4);
  EXPECT_EQ(on_b.text, on_a.text);
  EXPECT_EQ(on_b.cached_tokens, 192) << "b finds a's blocks by name";
  EXPECT_EQ(ScrapeMetric(b.port(), "tokenfab_prefix_cache_hits_total{tier=\"store\"}"), 192);
}

TEST(ServeStore, ADirectoryOtherUsersCanWriteIsRefused) {
  const std::string dir = FreshDir("serve-store-open");
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms::all);
  ServerProcess s({"--kv-store", dir}, "serve-open");
  EXPECT_FALSE(s.WaitReady());
  const std::string log = s.log();
  EXPECT_NE(log.find("error: --kv-store " + dir + ": the directory is writable by other users (mode 0777)"),
            std::string::npos)
      << log;
}

}  // namespace
}  // namespace tf
