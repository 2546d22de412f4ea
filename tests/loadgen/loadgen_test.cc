// loadgen: statistics, workload shapes, and real runs against tokenfab's
// server and against a foreign SSE server that sends no usage.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <nlohmann/json.hpp>

#include "loadgen/html_report.h"
#include "loadgen/load_runner.h"
#include "loadgen/run_stats.h"
#include "loadgen/workload.h"
#include "server/server_fixture.h"

namespace tf {
namespace {

using Json = nlohmann::json;

TEST(LoadgenStats, PercentilesInterpolateLikeNumpy) {
  const Percentiles p = Percentiles::Of({5, 1, 4, 2, 3});
  EXPECT_EQ(p.count, 5);
  EXPECT_DOUBLE_EQ(p.mean, 3);
  EXPECT_DOUBLE_EQ(p.p50, 3);
  EXPECT_DOUBLE_EQ(p.p90, 4.6);
  EXPECT_DOUBLE_EQ(p.p99, 4.96);
  EXPECT_DOUBLE_EQ(p.max, 5);
  EXPECT_EQ(Percentiles::Of({}).count, 0);
}

TEST(LoadgenStats, SummaryCountsGoodputCostAndErrors) {
  RunResult run;
  run.label = "concurrency=2";
  run.shape.concurrency = 2;
  run.wall_s = 2.0;
  for (int i = 0; i < 4; ++i) {
    RequestRecord r;
    r.ttft_s = i < 2 ? 0.05 : 0.5;  // two meet a 100 ms TTFT objective
    r.token_times_s = {r.ttft_s, r.ttft_s + 0.01, r.ttft_s + 0.02};
    r.e2e_s = r.ttft_s + 0.02;
    r.output_tokens = 3;
    r.prompt_tokens = 10;
    r.usage_reported = true;
    run.records.push_back(r);
  }
  RequestRecord failed;
  failed.error = "http_429";
  run.records.push_back(failed);
  ReportOptions options;
  options.slo_ttft_ms = 100;
  options.usd_per_hour = 3.6;
  options.server_cores = 2;
  const RunSummary s = Summarize(run, options);
  EXPECT_EQ(s.num_ok, 4);
  EXPECT_EQ(s.num_errors, 1);
  EXPECT_EQ(s.errors_by_type.at("http_429"), 1);
  EXPECT_DOUBLE_EQ(s.output_tok_s, 6.0);
  EXPECT_DOUBLE_EQ(s.input_tok_s, 20.0);
  EXPECT_DOUBLE_EQ(s.goodput, 1.0);            // 2 good requests over 2 s
  EXPECT_DOUBLE_EQ(s.goodput_fraction, 0.4);   // of 5 requests
  EXPECT_NEAR(s.tpot.p50, 0.01, 1e-12);
  EXPECT_NEAR(s.itl.mean, 0.01, 1e-12);
  EXPECT_NEAR(s.usd_per_million_output, 0.001 / 6.0 * 1e6, 1e-6);
  EXPECT_DOUBLE_EQ(s.output_tok_s_per_core, 3.0);
  EXPECT_NE(FormatSummaryTable({s}, options).find("http_429"), std::string::npos);
}

TEST(LoadgenWorkload, ParsesLengthsUrlsAndBuildsDeterministicRequests) {
  EXPECT_EQ(LengthDist::Parse("128", "x")->lo, 128);
  EXPECT_EQ(LengthDist::Parse("64:256", "x")->hi, 256);
  for (const char* bad : {"0", "-1", "5:2", "abc", "1:", "99999999"}) EXPECT_FALSE(LengthDist::Parse(bad, "x").ok()) << bad;
  auto t = LoadgenTarget::Parse("http://127.0.0.1:8080/v1");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->host, "127.0.0.1");
  EXPECT_EQ(t->port, 8080);
  EXPECT_EQ(t->base_path, "");
  EXPECT_FALSE(LoadgenTarget::Parse("https://example.com").ok());
  EXPECT_FALSE(LoadgenTarget::Parse("http://:99").ok());
  EXPECT_FALSE(LoadgenTarget::Parse("http://h:99999").ok());

  WorkloadConfig c;
  c.model = "m";
  c.input_tokens = {40, 40};
  c.output_tokens = {8, 16};
  c.shared_prefix_tokens = 20;
  auto w = Workload::Create(c);
  ASSERT_TRUE(w.ok());
  const Json a = Json::parse(w->Make(0).body), b = Json::parse(w->Make(1).body);
  EXPECT_EQ(Json::parse(w->Make(0).body), a);
  EXPECT_NE(a["prompt"], b["prompt"]);
  const std::string pa = a["prompt"], pb = b["prompt"];
  size_t common = 0;
  while (common < pa.size() && pa[common] == pb[common]) ++common;
  EXPECT_GE(common, 20u * 3);  // the shared prefix: 20 words
  EXPECT_TRUE(a["stream"].get<bool>());
  EXPECT_TRUE(a["stream_options"]["include_usage"].get<bool>());
  EXPECT_GE(a["max_tokens"].get<int>(), 8);
  EXPECT_LE(a["max_tokens"].get<int>(), 16);
}

TEST(LoadgenRun, ClosedLoopAndPoissonAgainstTokenfab) {
  testing::TestServer server;
  RunnerOptions runner;
  runner.target = *LoadgenTarget::Parse("http://127.0.0.1:" + std::to_string(server.port()));
  runner.progress = false;
  WorkloadConfig c;
  c.input_tokens = {16, 32};
  c.output_tokens = {8, 8};
  auto w = *Workload::Create(c);
  LoadShape closed;
  closed.concurrency = 4;
  closed.num_requests = 12;
  auto run = RunLoad(runner, closed, &w);
  ASSERT_TRUE(run.ok()) << run.status().message();
  ASSERT_EQ(run->records.size(), 12u);
  for (const RequestRecord& r : run->records) {
    EXPECT_TRUE(r.ok()) << r.error << " " << r.error_detail;
    EXPECT_TRUE(r.usage_reported);
    EXPECT_EQ(r.output_tokens, 8);
    EXPECT_GE(r.prompt_tokens, 16);
    EXPECT_GT(r.ttft_s, 0);
    EXPECT_GE(r.e2e_s, r.ttft_s);
  }
  LoadShape poisson;
  poisson.rate = 40;
  poisson.duration_s = 0.5;
  run = RunLoad(runner, poisson, &w);
  ASSERT_TRUE(run.ok());
  EXPECT_GT(run->records.size(), 3u);  // ~20 expected; a loose bound on a random count
  EXPECT_LT(run->records.size(), 80u);
  const RunSummary s = Summarize(*run, ReportOptions{});
  EXPECT_EQ(s.num_errors, 0);
  EXPECT_GT(s.output_tok_s, 0);
  // Bad shapes are refused.
  LoadShape none;
  EXPECT_FALSE(RunLoad(runner, none, &w).ok());
  none.concurrency = 1;
  EXPECT_FALSE(RunLoad(runner, none, &w).ok());  // neither count nor duration
}

// A server that streams five chunks and no usage (as some servers do), or
// answers 503, on every connection.
class ForeignServer {
 public:
  explicit ForeignServer(bool fail) : fail_(fail) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    ::listen(fd_, 16);
    thread_ = std::thread([this] { Serve(); });
  }
  ~ForeignServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  uint16_t port() const { return port_; }

 private:
  void Serve() {
    while (!stop_) {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      char buf[8192];
      std::string req;
      while (req.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = ::recv(c, buf, sizeof(buf), 0);
        if (n <= 0) break;
        req.append(buf, static_cast<size_t>(n));
      }
      // Read the body too: closing with unread bytes would reset the connection.
      const size_t cl = req.find("Content-Length: ");
      const size_t head = req.find("\r\n\r\n") + 4;
      const size_t want = cl == std::string::npos ? 0 : std::stoul(req.substr(cl + 16));
      while (req.size() < head + want) {
        const ssize_t n = ::recv(c, buf, sizeof(buf), 0);
        if (n <= 0) break;
        req.append(buf, static_cast<size_t>(n));
      }
      std::string out;
      if (fail_) {
        out = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy";
      } else {
        std::string body;
        for (int i = 0; i < 5; ++i) body += "data: {\"choices\":[{\"index\":0,\"text\":\"tok\"}]}\n\n";
        body += "data: [DONE]\n\n";
        out = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\nContent-Length: " +
              std::to_string(body.size()) + "\r\n\r\n" + body;
      }
      ::send(c, out.data(), out.size(), MSG_NOSIGNAL);
      ::close(c);
    }
  }
  bool fail_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST(LoadgenRun, ForeignServersWithoutUsageAndFailingServers) {
  WorkloadConfig c;
  auto w = *Workload::Create(c);
  LoadShape shape;
  shape.concurrency = 2;
  shape.num_requests = 4;
  {
    ForeignServer foreign(false);
    RunnerOptions runner;
    runner.target = *LoadgenTarget::Parse("http://127.0.0.1:" + std::to_string(foreign.port()));
    runner.progress = false;
    auto run = RunLoad(runner, shape, &w);
    ASSERT_TRUE(run.ok());
    for (const RequestRecord& r : run->records) {
      EXPECT_TRUE(r.ok()) << r.error << ": " << r.error_detail;
      EXPECT_FALSE(r.usage_reported);
      EXPECT_EQ(r.output_tokens, 5);  // counted from the stream's chunks
    }
  }
  {
    ForeignServer failing(true);
    RunnerOptions runner;
    runner.target = *LoadgenTarget::Parse("http://127.0.0.1:" + std::to_string(failing.port()));
    runner.progress = false;
    auto run = RunLoad(runner, shape, &w);
    ASSERT_TRUE(run.ok());
    const RunSummary s = Summarize(*run, ReportOptions{});
    EXPECT_EQ(s.errors_by_type.at("http_503"), 4);
  }
}

// Nothing listening: one clear error before any load, not a run of failures.
// A server that goes away mid-run: the run stops soon after, with one error,
// instead of firing failing requests until its duration ends.
TEST(LoadgenRun, RefusedConnectionsStopTheRunWithOneError) {
  WorkloadConfig c;
  auto w = *Workload::Create(c);
  LoadShape shape;
  shape.concurrency = 4;
  shape.duration_s = 60;
  RunnerOptions runner;
  runner.progress = false;
  runner.target = *LoadgenTarget::Parse("http://127.0.0.1:1");  // nothing listens on port 1
  const auto start = std::chrono::steady_clock::now();
  auto run = RunLoad(runner, shape, &w);
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(run.status().message().find("http://127.0.0.1:1 does not answer"), std::string::npos)
      << run.status().message();
  EXPECT_NE(run.status().message().find("refused"), std::string::npos) << run.status().message();

  auto foreign = std::make_unique<ForeignServer>(false);
  runner.target = *LoadgenTarget::Parse("http://127.0.0.1:" + std::to_string(foreign->port()));
  std::thread killer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    foreign.reset();  // the port closes: every new connection is refused
  });
  run = RunLoad(runner, shape, &w);
  killer.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(run.status().message().find("20 connections in a row failed"), std::string::npos) << run.status().message();
  EXPECT_LT(seconds, 20.0) << "the run must stop, not last its 60 s";
}

TEST(LoadgenReport, HtmlEmbedsTheDataSafely) {
  Json doc = {{"generated_at", "now"}, {"config", {{"url", "u"}}}, {"runs", Json::array()}};
  doc["config"]["model"] = "</script><script>alert(1)</script>";
  const std::string html = RenderHtmlReport(doc);
  EXPECT_EQ(html.find("</script><script>alert"), std::string::npos);
  EXPECT_NE(html.find("<\\/script>"), std::string::npos);
  EXPECT_EQ(html.find("http://"), html.find("http://www.w3.org/2000/svg"));  // nothing fetched from the network
}

}  // namespace
}  // namespace tf
