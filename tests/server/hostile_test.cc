// The hostile-input suite: every row is an attack or a broken client, and
// every row expects a clean error with the right status while the server
// keeps serving everyone else, and memory stays bounded.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "server/server_fixture.h"
#include "server/test_http.h"

namespace tf::testing {
namespace {

using Json = nlohmann::json;

int64_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * 4096;
}

bool WaitFor(const std::function<bool()>& condition) {
  for (int i = 0; i < 500; ++i) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// A normal request still works.
void ExpectStillServing(uint16_t port) {
  const HttpReply r = Call(port, "POST", "/v1/completions", R"({"prompt":[1,2,3],"max_tokens":2})");
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST(Hostile, OversizedBodyIsRefusedBeforeItIsRead) {
  ServerSetup setup;
  setup.api.http.max_body_bytes = 1 << 20;
  TestServer server(setup);
  RawConnection c(server.port());
  // Only the header is sent: the 413 must not wait for 100 MB.
  ASSERT_TRUE(c.Send("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 104857600\r\n\r\n"));
  const auto reply = c.ReadReply();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->status, 413);
  EXPECT_TRUE(c.WaitClosed());
  // Chunked bodies that grow past the limit are cut off too.
  RawConnection chunked(server.port());
  ASSERT_TRUE(chunked.Send("POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"));
  const std::string chunk = std::string("10000\r\n") + std::string(65536, 'a') + "\r\n";
  for (int i = 0; i < 20 && chunked.Send(chunk); ++i) {
  }
  const auto r2 = chunked.ReadReply();
  ASSERT_TRUE(r2.has_value());
  EXPECT_EQ(r2->status, 413);
  ExpectStillServing(server.port());
}

TEST(Hostile, MegabyteHeaderGets431) {
  TestServer server;
  RawConnection c(server.port());
  c.Send("GET /health HTTP/1.1\r\nHost: x\r\nX-Junk: " + std::string(1 << 20, 'j') + "\r\n\r\n");
  const auto reply = c.ReadReply();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->status, 431);
  ExpectStillServing(server.port());
}

TEST(Hostile, GarbageAndSmugglingAttemptsGet400) {
  TestServer server;
  for (const std::string& raw : {std::string("\x16\x03\x01\x02\x00 TLS hello\r\n\r\n"), std::string("GET\r\n\r\n"),
                                 std::string("POST /v1/completions HTTP/1.1\r\nContent-Length: -5\r\n\r\n"),
                                 std::string("POST /v1/completions HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"),
                                 std::string("POST /v1/completions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")}) {
    RawConnection c(server.port());
    ASSERT_TRUE(c.Send(raw));
    const auto reply = c.ReadReply();
    ASSERT_TRUE(reply.has_value()) << raw;
    EXPECT_EQ(reply->status, 400) << raw;
  }
  ExpectStillServing(server.port());
}

TEST(Hostile, WrongTypesForEveryFieldName) {
  TestServer server;
  const char* fields[] = {"model", "max_tokens", "max_completion_tokens", "temperature", "top_p", "top_k", "min_p", "seed",
                          "stop", "presence_penalty", "frequency_penalty", "repetition_penalty", "logit_bias", "logprobs",
                          "n", "stream", "stream_options", "response_format", "ignore_eos"};
  for (const char* field : fields) {
    Json body = {{"prompt", "x"}};
    const bool wants_object = std::string(field) == "logit_bias" || std::string(field) == "stream_options" ||
                              std::string(field) == "response_format";
    body[field] = wants_object ? Json::array({1, 2}) : Json::object({{"nested", true}});
    const HttpReply r = Call(server.port(), "POST", "/v1/completions", body.dump());
    EXPECT_EQ(r.status, 400) << field << ": " << r.body;
    EXPECT_EQ(Json::parse(r.body)["error"]["param"], field) << r.body;
  }
  for (const auto& [field, value] : std::vector<std::pair<std::string, Json>>{
           {"messages", Json::object()}, {"tools", "all"}, {"top_logprobs", "3"}, {"logprobs", 1}}) {
    Json body = {{"messages", {{{"role", "user"}, {"content", "x"}}}}};
    body[field] = value;
    const HttpReply r = Call(server.port(), "POST", "/v1/chat/completions", body.dump());
    EXPECT_EQ(r.status, 400) << field << ": " << r.body;
    EXPECT_EQ(Json::parse(r.body)["error"]["param"], field) << r.body;
  }
  ExpectStillServing(server.port());
}

TEST(Hostile, AbsurdValuesAreRefusedAndCapsHold) {
  TestServer server;
  for (const char* body : {R"({"prompt":"x","n":-1})", R"({"prompt":"x","n":1000000})",
                           R"({"prompt":"x","logprobs":-1})", R"({"prompt":"x","logprobs":1000000})",
                           R"({"prompt":"x","temperature":1e308})", R"({"prompt":"x","temperature":-0.0001})",
                           R"({"prompt":"x","max_tokens":0})", R"({"prompt":"x","max_tokens":-9223372036854775808})",
                           R"({"prompt":"x","top_k":9223372036854775807})", R"({"prompt":"x","seed":1.5})",
                           R"({"prompt":"x","logit_bias":{"1":1e400}})"}) {
    const HttpReply r = Call(server.port(), "POST", "/v1/completions", body);
    EXPECT_EQ(r.status, 400) << body << " -> " << r.body;
  }
  std::string stops = R"({"prompt":"x","stop":[)";
  for (int i = 0; i < 10000; ++i) stops += (i ? ",\"s" : "\"s") + std::to_string(i) + "\"";
  EXPECT_EQ(Call(server.port(), "POST", "/v1/completions", stops + "]}").status, 400);
  // A max_tokens far beyond the context is clamped to it, not an error.
  const HttpReply r = Call(server.port(), "POST", "/v1/completions",
                           R"({"prompt":[1,2],"max_tokens":2147483647,"ignore_eos":true})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Json::parse(r.body)["usage"]["completion_tokens"], 256 - 2);
  // Invalid UTF-8 in every string field.
  for (const std::string& body : {std::string("{\"prompt\":\"\xff\xfe\"}"), std::string("{\"prompt\":\"x\",\"stop\":\"\xc0\"}"),
                                  std::string("{\"messages\":[{\"role\":\"\xff\",\"content\":\"x\"}]}")}) {
    EXPECT_EQ(Call(server.port(), "POST", "/v1/completions", body).status, 400);
  }
  ExpectStillServing(server.port());
}

TEST(Hostile, ClientsVanishingAtEveryPhaseReleaseEverything) {
  ServerSetup setup;
  setup.engine.sched.max_num_seqs = 1;  // the second request waits in the queue
  TestServer server(setup);
  const std::string long_gen = R"({"prompt":[1,2,3,4],"max_tokens":200,"ignore_eos":true,"stream":true})";
  std::vector<int> prompt(200, 7);
  const std::string long_prompt = Json{{"prompt", prompt}, {"max_tokens", 3}}.dump();
  auto vanish = [&](const std::string& body, const std::string& wait_for) {
    RawConnection c(server.port());
    ASSERT_TRUE(c.Send(BuildRequest("POST", "/v1/completions", body)));
    if (!wait_for.empty()) {
      ASSERT_TRUE(c.ReadUntil(wait_for));
    }
  };
  // In decode (after the first token), in prefill/right after sending, and
  // while queued behind a running request.
  vanish(long_gen, "data: ");
  vanish(long_prompt, "");
  {
    RawConnection running(server.port());
    ASSERT_TRUE(running.Send(BuildRequest("POST", "/v1/completions", long_gen)));
    ASSERT_TRUE(running.ReadUntil("data: "));
    vanish(long_gen, "");  // queued
    EXPECT_TRUE(WaitFor([&] { return ScrapeMetric(server.port(), "tokenfab_requests_waiting") == 0; }));
  }
  // On the last token: the response is complete when the client leaves.
  {
    RawConnection c(server.port());
    ASSERT_TRUE(c.Send(BuildRequest("POST", "/v1/completions", R"({"prompt":[1],"max_tokens":1,"stream":true})")));
    ASSERT_TRUE(c.ReadUntil("[DONE]"));
  }
  EXPECT_TRUE(WaitFor([&] { return ScrapeMetric(server.port(), "tokenfab_kv_blocks_used") == 0; }));
  EXPECT_TRUE(WaitFor([&] { return ScrapeMetric(server.port(), "tokenfab_requests_running") == 0; }));
  ExpectStillServing(server.port());
}

TEST(Hostile, ThousandConcurrentConnectionsAndBoundedMemory) {
  TestServer server;
  ExpectStillServing(server.port());
  const int64_t rss_before = ResidentBytes();
  for (int round = 0; round < 2; ++round) {
    std::vector<std::unique_ptr<RawConnection>> conns;
    for (int i = 0; i < 1000; ++i) {
      conns.push_back(std::make_unique<RawConnection>(server.port()));
      ASSERT_TRUE(conns.back()->ok());
      // Half send a complete request, half a partial one and go silent.
      if (i % 2 == 0) {
        conns.back()->Send(BuildRequest("GET", "/health", ""));
      } else {
        conns.back()->Send("POST /v1/completions HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"pro");
      }
    }
    for (int i = 0; i < 1000; i += 2) {
      const auto reply = conns[i]->ReadReply();
      ASSERT_TRUE(reply.has_value());
      EXPECT_EQ(reply->status, 200);
    }
    ExpectStillServing(server.port());
  }  // every client disconnects
  EXPECT_TRUE(WaitFor([&] { return server.server()->num_connections() == 0; }));
  const int64_t growth = ResidentBytes() - rss_before;
  std::printf("resident memory: %.1f MiB before, growth %.1f MiB after 2000 connections\n", rss_before / 1048576.0,
              growth / 1048576.0);
  EXPECT_LT(growth, 64 << 20);
}

}  // namespace
}  // namespace tf::testing
