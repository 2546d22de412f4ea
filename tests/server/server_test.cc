// The OpenAI-compatible server for real: sockets on loopback, concurrent
// clients, the prefix cache, preemption, disconnects, every error status.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "server/server_fixture.h"
#include "server/test_http.h"

namespace tf::testing {
namespace {

using Json = nlohmann::json;

// Polls a metric until it equals `want` (the engine publishes after each step).
bool WaitForMetric(uint16_t port, const std::string& name, double want) {
  for (int i = 0; i < 400; ++i) {
    if (ScrapeMetric(port, name) == want) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

std::vector<int> PromptTokens(int seed, int n) {
  std::vector<int> tokens;
  for (int j = 0; j < n; ++j) tokens.push_back(1 + (seed * 131 + j * 17) % 31000);
  return tokens;
}

Json CompletionBody(const std::vector<int>& prompt, int max_tokens, bool stream) {
  return {{"prompt", prompt}, {"max_tokens", max_tokens}, {"temperature", 0}, {"stream", stream}, {"ignore_eos", true}};
}

// The text a streamed completion produced, from its SSE events.
std::string StreamedText(const HttpReply& r) {
  std::string text;
  for (const std::string& e : r.Events()) {
    if (e == "[DONE]") break;
    const Json j = Json::parse(e);
    for (const Json& c : j["choices"]) text += c.value("text", "");
  }
  return text;
}

TEST(Server, HealthModelsAndMetrics) {
  TestServer server;
  HttpReply r = Call(server.port(), "GET", "/health");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Json::parse(r.body)["status"], "ok");
  r = Call(server.port(), "GET", "/v1/models");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(Json::parse(r.body)["data"][0]["id"], "tiny-llama-spm-q8_0");
  r = Call(server.port(), "GET", "/metrics");
  ASSERT_EQ(r.status, 200);
  for (const char* name : {"tokenfab_requests_total", "tokenfab_time_to_first_token_seconds_bucket",
                           "tokenfab_time_per_output_token_seconds", "tokenfab_inter_token_latency_seconds",
                           "tokenfab_e2e_request_latency_seconds", "tokenfab_requests_running",
                           "tokenfab_requests_waiting", "tokenfab_kv_blocks_used", "tokenfab_kv_blocks_total",
                           "tokenfab_prefix_cache_hits_total", "tokenfab_prefix_cache_queries_total",
                           "tokenfab_preemptions_total", "tokenfab_generation_tokens_per_second",
                           "tokenfab_prompt_tokens_total", "tokenfab_generation_tokens_total"}) {
    EXPECT_NE(r.body.find(name), std::string::npos) << name;
  }
  EXPECT_EQ(ScrapeMetric(server.port(), "tokenfab_kv_blocks_total"), 512);
}

TEST(Server, CompletionAndChatShapes) {
  TestServer server;
  HttpReply r = Call(server.port(), "POST", "/v1/completions", CompletionBody(PromptTokens(1, 5), 7, false).dump());
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = Json::parse(r.body);
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(j["usage"]["prompt_tokens"], 5);
  EXPECT_EQ(j["usage"]["completion_tokens"], 7);
  EXPECT_EQ(j["usage"]["total_tokens"], 12);

  // Completions logprobs: tokens, token_logprobs, top_logprobs (and
  // text_offset in whole responses), one entry per output token.
  Json with_lp = CompletionBody(PromptTokens(1, 5), 4, false);
  with_lp["logprobs"] = 2;
  r = Call(server.port(), "POST", "/v1/completions", with_lp.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  const Json lp = Json::parse(r.body)["choices"][0]["logprobs"];
  ASSERT_EQ(lp["tokens"].size(), 4u);
  EXPECT_EQ(lp["token_logprobs"].size(), 4u);
  EXPECT_EQ(lp["top_logprobs"][0].size(), 2u);
  EXPECT_EQ(lp["text_offset"][0], 0);
  // Greedy: each chosen token is the most likely one, so its logprob is the
  // best of its alternatives; alternatives are log-probabilities of distinct
  // tokens (together at most 1) and the engine test checks their values.
  for (size_t i = 0; i < 4; ++i) {
    const double chosen = lp["token_logprobs"][i].get<double>();
    EXPECT_LE(chosen, 0.0);
    double best = -1e30, mass = 0;
    for (const auto& [piece, value] : lp["top_logprobs"][i].items()) {
      best = std::max(best, value.get<double>());
      mass += std::exp(value.get<double>());
    }
    EXPECT_DOUBLE_EQ(chosen, best) << "token " << i;
    EXPECT_LE(mass, 1.0 + 1e-6);
    EXPECT_EQ(lp["top_logprobs"][i][lp["tokens"][i].get<std::string>()], chosen);
  }
  // Chat logprobs list the alternatives best first.
  const Json chat_lp = {{"messages", {{{"role", "user"}, {"content", "hi"}}}}, {"max_tokens", 3}, {"temperature", 0},
                        {"logprobs", true}, {"top_logprobs", 3}};
  r = Call(server.port(), "POST", "/v1/chat/completions", chat_lp.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  const Json content = Json::parse(r.body)["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(content.size(), 3u);
  for (const Json& entry : content) {
    ASSERT_EQ(entry["top_logprobs"].size(), 3u);
    EXPECT_EQ(entry["top_logprobs"][0]["token"], entry["token"]);
    EXPECT_EQ(entry["top_logprobs"][0]["logprob"], entry["logprob"]);
    for (size_t j = 1; j < 3; ++j) {
      EXPECT_GE(entry["top_logprobs"][j - 1]["logprob"].get<double>(), entry["top_logprobs"][j]["logprob"].get<double>());
    }
  }
  with_lp["stream"] = true;
  r = Call(server.port(), "POST", "/v1/completions", with_lp.dump());
  int streamed_tokens = 0;
  for (const std::string& e : r.Events()) {
    if (e == "[DONE]") break;
    const Json c = Json::parse(e)["choices"][0];
    if (!c["logprobs"].is_null()) streamed_tokens += static_cast<int>(c["logprobs"]["tokens"].size());
  }
  EXPECT_EQ(streamed_tokens, 4);

  const Json chat = {{"messages", {{{"role", "system"}, {"content", "be brief"}}, {{"role", "user"}, {"content", "hello"}}}},
                     {"max_completion_tokens", 4}, {"stream", true}, {"stream_options", {{"include_usage", true}}},
                     {"temperature", 0}};
  r = Call(server.port(), "POST", "/v1/chat/completions", chat.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["content-type"], "text/event-stream");
  const auto events = r.Events();
  ASSERT_GE(events.size(), 4u);
  EXPECT_EQ(events.back(), "[DONE]");
  const Json first = Json::parse(events.front());
  EXPECT_EQ(first["object"], "chat.completion.chunk");
  EXPECT_EQ(first["choices"][0]["delta"]["role"], "assistant");
  const Json usage = Json::parse(events[events.size() - 2]);
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["completion_tokens"], 4);
  const Json finish = Json::parse(events[events.size() - 3]);
  EXPECT_EQ(finish["choices"][0]["finish_reason"], "length");
}

// 32 clients at once get what each gets alone, and their streams really
// run together: from each stream's first token to its last, most of the
// others are streaming too (a server that answered one request at a time
// would give intervals that never overlap).
TEST(Server, ThirtyTwoConcurrentGreedyStreamsMatchTheirSoloRunsAndOverlap) {
  TestServer server;
  const int n = 32, max_tokens = 12;
  std::vector<std::string> alone(n), together(n);
  for (int i = 0; i < n; ++i) {
    alone[i] = StreamedText(Call(server.port(), "POST", "/v1/completions",
                                 CompletionBody(PromptTokens(i, 3 + i % 11), max_tokens, true).dump()));
  }
  using Clock = std::chrono::steady_clock;
  std::vector<Clock::time_point> first_token(n), last_token(n);
  std::vector<std::thread> clients;
  for (int i = 0; i < n; ++i) {
    clients.emplace_back([&, i] {
      RawConnection c(server.port());
      if (!c.Send(BuildRequest("POST", "/v1/completions", CompletionBody(PromptTokens(i, 3 + i % 11), max_tokens, true).dump()))) {
        return;
      }
      if (!c.ReadUntil("\"text\"")) return;  // the first token's event
      first_token[i] = Clock::now();
      const std::optional<HttpReply> reply = c.ReadReply();
      last_token[i] = Clock::now();
      if (reply) together[i] = StreamedText(*reply);
    });
  }
  for (auto& t : clients) t.join();
  for (int i = 0; i < n; ++i) {
    EXPECT_FALSE(alone[i].empty());
    EXPECT_EQ(together[i], alone[i]) << "stream " << i;
  }
  int most_at_once = 0;
  for (int i = 0; i < n; ++i) {
    int streaming = 0;
    for (int j = 0; j < n; ++j) streaming += first_token[j] <= first_token[i] && first_token[i] <= last_token[j];
    most_at_once = std::max(most_at_once, streaming);
  }
  EXPECT_GE(most_at_once, n / 2) << "streams did not run concurrently";
  RecordProperty("most_streams_at_once", most_at_once);
  EXPECT_TRUE(WaitForMetric(server.port(), "tokenfab_kv_blocks_used", 0));
}

TEST(Server, SharedPrefixesHitThePrefixCache) {
  TestServer server;
  std::vector<int> system = PromptTokens(7, 64);
  for (int i = 0; i < 3; ++i) {
    std::vector<int> prompt = system;
    prompt.push_back(100 + i);
    const HttpReply r = Call(server.port(), "POST", "/v1/completions", CompletionBody(prompt, 2, false).dump());
    ASSERT_EQ(r.status, 200);
    const int cached = Json::parse(r.body)["usage"]["prompt_tokens_details"]["cached_tokens"];
    EXPECT_EQ(cached, i == 0 ? 0 : 64) << "request " << i;
  }
  EXPECT_EQ(ScrapeMetric(server.port(), "tokenfab_prefix_cache_hits_total{tier=\"ram\"}"), 128);
  EXPECT_EQ(ScrapeMetric(server.port(), "tokenfab_prefix_cache_queries_total{tier=\"ram\"}"), 3 * 65);
  EXPECT_EQ(ScrapeMetric(server.port(), "tokenfab_prefix_cache_hits_total{tier=\"store\"}"), 0);
}

TEST(Server, ATinyKvPoolForcesPreemptionsAndEveryRequestStillCompletes) {
  ServerSetup setup;
  setup.engine.num_kv_blocks = 20;  // 320 tokens for 8 requests of up to ~100
  setup.engine.ctx_size = 128;
  setup.engine.block_size = 16;
  setup.engine.sched.watermark_blocks = 1;
  TestServer server(setup);
  const int n = 8, max_tokens = 60;
  std::vector<std::string> alone(n), together(n);
  for (int i = 0; i < n; ++i) {
    alone[i] = StreamedText(Call(server.port(), "POST", "/v1/completions",
                                 CompletionBody(PromptTokens(i, 20 + i), max_tokens, true).dump()));
  }
  std::vector<std::thread> clients;
  for (int i = 0; i < n; ++i) {
    clients.emplace_back([&, i] {
      together[i] = StreamedText(Call(server.port(), "POST", "/v1/completions",
                                      CompletionBody(PromptTokens(i, 20 + i), max_tokens, true).dump()));
    });
  }
  for (auto& t : clients) t.join();
  for (int i = 0; i < n; ++i) EXPECT_EQ(together[i], alone[i]) << "request " << i;
  EXPECT_GT(ScrapeMetric(server.port(), "tokenfab_preemptions_total"), 0);
  EXPECT_TRUE(WaitForMetric(server.port(), "tokenfab_kv_blocks_used", 0));
}

TEST(Server, ADisconnectMidStreamAbortsAndReturnsKvToBaseline) {
  TestServer server;
  const double baseline = ScrapeMetric(server.port(), "tokenfab_kv_blocks_used");
  {
    RawConnection c(server.port());
    ASSERT_TRUE(c.Send(BuildRequest("POST", "/v1/completions", CompletionBody(PromptTokens(3, 40), 200, true).dump())));
    ASSERT_TRUE(c.ReadUntil("data: "));
    // Stats are published at the end of each step; poll.
    bool grew = false;
    for (int i = 0; i < 200 && !grew; ++i) {
      grew = ScrapeMetric(server.port(), "tokenfab_kv_blocks_used") > baseline;
      if (!grew) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_TRUE(grew);
  }  // the client vanishes
  EXPECT_TRUE(WaitForMetric(server.port(), "tokenfab_kv_blocks_used", baseline));
  EXPECT_TRUE(WaitForMetric(server.port(), "tokenfab_requests_total{outcome=\"abort\"}", 1));
  // A disconnect while queued or before the first token is handled the same way.
  {
    RawConnection c(server.port());
    ASSERT_TRUE(c.Send(BuildRequest("POST", "/v1/completions", CompletionBody(PromptTokens(4, 40), 200, false).dump())));
  }
  EXPECT_TRUE(WaitForMetric(server.port(), "tokenfab_requests_total{outcome=\"abort\"}", 2));
  EXPECT_TRUE(WaitForMetric(server.port(), "tokenfab_kv_blocks_used", baseline));
  EXPECT_EQ(Call(server.port(), "GET", "/health").status, 200);
}

struct BadCase {
  const char* path;
  const char* body;
  const char* param;
};

TEST(Server, EveryInvalidParameterIsA400NamingIt) {
  TestServer server;
  const BadCase cases[] = {
      {"/v1/completions", R"({"prompt":"hi","temperature":-1})", "temperature"},
      {"/v1/completions", R"({"prompt":"hi","temperature":"hot"})", "temperature"},
      {"/v1/completions", R"({"prompt":"hi","top_p":0})", "top_p"},
      {"/v1/completions", R"({"prompt":"hi","top_p":1.5})", "top_p"},
      {"/v1/completions", R"({"prompt":"hi","top_k":-5})", "top_k"},
      {"/v1/completions", R"({"prompt":"hi","top_k":1.5})", "top_k"},
      {"/v1/completions", R"({"prompt":"hi","min_p":2})", "min_p"},
      {"/v1/completions", R"({"prompt":"hi","max_tokens":0})", "max_tokens"},
      {"/v1/completions", R"({"prompt":"hi","max_tokens":-1})", "max_tokens"},
      {"/v1/completions", R"({"prompt":"hi","max_tokens":"10"})", "max_tokens"},
      {"/v1/chat/completions", R"({"messages":[{"role":"user","content":"x"}],"max_completion_tokens":0})", "max_completion_tokens"},
      {"/v1/completions", R"({"prompt":"hi","seed":"x"})", "seed"},
      {"/v1/completions", R"({"prompt":"hi","stop":5})", "stop"},
      {"/v1/completions", R"({"prompt":"hi","stop":[""]})", "stop"},
      {"/v1/completions", R"({"prompt":"hi","presence_penalty":3})", "presence_penalty"},
      {"/v1/completions", R"({"prompt":"hi","frequency_penalty":-3})", "frequency_penalty"},
      {"/v1/completions", R"({"prompt":"hi","repetition_penalty":0})", "repetition_penalty"},
      {"/v1/completions", R"({"prompt":"hi","logit_bias":{"abc":1}})", "logit_bias"},
      {"/v1/completions", R"({"prompt":"hi","logit_bias":{"5":1000}})", "logit_bias"},
      {"/v1/completions", R"({"prompt":"hi","logit_bias":{"99999999":1}})", "logit_bias"},
      {"/v1/completions", R"({"prompt":"hi","logprobs":6})", "logprobs"},
      {"/v1/completions", R"({"prompt":"hi","logprobs":-1})", "logprobs"},
      {"/v1/chat/completions", R"({"messages":[{"role":"user","content":"x"}],"logprobs":true,"top_logprobs":21})", "top_logprobs"},
      {"/v1/chat/completions", R"({"messages":[{"role":"user","content":"x"}],"top_logprobs":2})", "top_logprobs"},
      {"/v1/completions", R"({"prompt":"hi","n":0})", "n"},
      {"/v1/completions", R"({"prompt":"hi","n":1000})", "n"},
      {"/v1/completions", R"({"prompt":"hi","stream":"yes"})", "stream"},
      {"/v1/completions", R"({"prompt":"hi","stream_options":{"include_usage":1}})", "stream_options"},
      {"/v1/completions", R"({"prompt":"hi","response_format":{"type":"xml"}})", "response_format"},
      {"/v1/completions", R"({"prompt":"hi","model":5})", "model"},
      {"/v1/completions", R"({"prompt":[1,-2]})", "prompt"},
      {"/v1/completions", R"({"prompt":[1,99999999]})", "prompt"},
      {"/v1/completions", R"({"prompt":{}})", "prompt"},
      {"/v1/completions", R"({"max_tokens":3})", "prompt"},
      {"/v1/chat/completions", R"({"messages":[]})", "messages"},
      {"/v1/chat/completions", R"({"messages":[{"content":"no role"}]})", "messages"},
      {"/v1/chat/completions", R"({"messages":[{"role":"user","content":5}]})", "messages"},
      {"/v1/chat/completions", R"({"messages":"hi"})", "messages"},
  };
  for (const BadCase& c : cases) {
    const HttpReply r = Call(server.port(), "POST", c.path, c.body);
    EXPECT_EQ(r.status, 400) << c.body << " -> " << r.body;
    const Json j = Json::parse(r.body, nullptr, false);
    ASSERT_TRUE(j.is_object()) << r.body;
    EXPECT_EQ(j["error"]["param"], c.param) << c.body << " -> " << r.body;
    EXPECT_EQ(j["error"]["type"], "invalid_request_error");
    EXPECT_TRUE(j["error"]["message"].is_string());
  }
  // A prompt longer than the context names n_ctx.
  const HttpReply r = Call(server.port(), "POST", "/v1/completions", CompletionBody(PromptTokens(1, 256), 4, false).dump());
  EXPECT_EQ(r.status, 400);
  const Json j = Json::parse(r.body);
  EXPECT_EQ(j["error"]["param"], "prompt");
  EXPECT_EQ(j["error"]["code"], "context_length_exceeded");
  EXPECT_NE(j["error"]["message"].get<std::string>().find("n_ctx"), std::string::npos);
  // Malformed and non-object JSON, and NaN-like tokens.
  for (const char* body : {"{", "[1,2]", "{\"prompt\": NaN}", "\xff\xfe", ""}) {
    EXPECT_EQ(Call(server.port(), "POST", "/v1/completions", body).status, 400) << body;
  }
  EXPECT_EQ(Call(server.port(), "POST", "/v1/completions", std::string(100, '[') + std::string(100, ']')).status, 400);
  EXPECT_EQ(Call(server.port(), "GET", "/health").status, 200);
}

TEST(Server, StatusCodesForAuthRoutesSizesAndCapacity) {
  ServerSetup setup;
  setup.api.api_key = "sekrit";
  setup.api.http.max_body_bytes = 4096;
  setup.api.http.max_header_bytes = 2048;
  setup.engine.sched.max_num_seqs = 1;
  setup.engine.sched.max_queue = 0;
  TestServer server(setup);
  const std::string auth = "Authorization: Bearer sekrit";
  EXPECT_EQ(Call(server.port(), "GET", "/health").status, 200);  // public
  EXPECT_EQ(Call(server.port(), "GET", "/v1/models").status, 401);
  EXPECT_EQ(Call(server.port(), "GET", "/metrics", "", {"Authorization: Bearer wrong"}).status, 401);
  EXPECT_EQ(Call(server.port(), "GET", "/v1/models", "", {auth}).status, 200);
  EXPECT_EQ(Call(server.port(), "GET", "/v1/nothing", "", {auth}).status, 404);
  EXPECT_EQ(Call(server.port(), "GET", "/v1/completions", "", {auth}).status, 405);
  HttpReply r = Call(server.port(), "POST", "/v1/completions", R"({"prompt":"hi","model":"gpt-4"})", {auth});
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(Json::parse(r.body)["error"]["code"], "model_not_found");
  r = Call(server.port(), "POST", "/v1/completions", std::string(5000, ' '), {auth});
  EXPECT_EQ(r.status, 413);
  r = Call(server.port(), "GET", "/health", "", {"X-Big: " + std::string(4000, 'a')});
  EXPECT_EQ(r.status, 431);

  // One running request fills the server: the next gets 429 with Retry-After.
  RawConnection busy(server.port());
  ASSERT_TRUE(busy.Send(BuildRequest("POST", "/v1/completions", CompletionBody(PromptTokens(1, 8), 200, true).dump(), {auth})));
  ASSERT_TRUE(busy.ReadUntil("data: "));
  r = Call(server.port(), "POST", "/v1/completions", CompletionBody(PromptTokens(2, 8), 4, false).dump(), {auth});
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.headers["retry-after"], "1");
  busy.Close();
}

TEST(Server, EngineFailureGives500AndHealth503) {
  TestServer server;
  server.engine()->InjectForwardFailure();
  const HttpReply r = Call(server.port(), "POST", "/v1/completions", CompletionBody(PromptTokens(1, 8), 4, false).dump());
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(r.body.find("injected"), std::string::npos);
  EXPECT_EQ(Call(server.port(), "GET", "/health").status, 503);
  EXPECT_EQ(Call(server.port(), "POST", "/v1/completions", CompletionBody(PromptTokens(1, 8), 4, false).dump()).status, 503);
}

TEST(Server, AThousandIdleConnectionsLeaveHealthResponsive) {
  TestServer server;
  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < 1000; ++i) {
    idle.push_back(std::make_unique<RawConnection>(server.port()));
    ASSERT_TRUE(idle.back()->ok()) << "connection " << i;
  }
  // Half of them keep-alive after a request, half never sent a byte.
  for (int i = 0; i < 500; ++i) {
    ASSERT_TRUE(idle[i]->Send(BuildRequest("GET", "/health", "")));
    ASSERT_EQ(idle[i]->ReadReply()->status, 200);
  }
  const auto start = std::chrono::steady_clock::now();
  const HttpReply r = Call(server.port(), "GET", "/health");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(r.status, 200);
  EXPECT_LT(seconds, 2.0);  // a liveness bound, not a speed claim
  EXPECT_GE(server.server()->num_connections(), 1000);
  const HttpReply gen = Call(server.port(), "POST", "/v1/completions", CompletionBody(PromptTokens(1, 4), 3, false).dump());
  EXPECT_EQ(gen.status, 200);
}

// A client that keeps trickling header bytes never finishes its request:
// the read deadline counts from the request's start, not from the last
// byte, so it gets 408 and a closed socket on time however long it dribbles.
TEST(Server, SlowlorisGets408AndAClosedSocket) {
  ServerSetup setup;
  setup.api.http.read_timeout = std::chrono::milliseconds(400);
  TestServer server(setup);
  RawConnection slow(server.port());
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(slow.Send("POST /v1/completions HTTP/1.1\r\nHost: x\r\nX-Dribble: "));
  std::atomic<bool> stop{false};
  std::atomic<int> bytes_near_deadline{0};
  std::thread dribble([&] {
    // One byte every 40 ms until the server answers (or for 5 s: far past the deadline).
    for (int i = 0; i < 125 && !stop.load(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(40));
      if (!slow.Send("a")) break;  // the server closed the socket
      // Bytes in the last 100 ms before the deadline: a deadline that restarted
      // with each byte would then never fire while the client keeps going.
      if (std::chrono::steady_clock::now() - start > std::chrono::milliseconds(300)) ++bytes_near_deadline;
    }
  });
  const auto reply = slow.ReadReply();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  stop.store(true);
  dribble.join();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->status, 408);
  EXPECT_GT(bytes_near_deadline.load(), 0) << "the client must still be sending when the deadline passes";
  EXPECT_LT(seconds, 3.0) << "the deadline must not restart with each byte";
  EXPECT_TRUE(slow.WaitClosed());
  EXPECT_EQ(Call(server.port(), "GET", "/health").status, 200);
}

TEST(Server, ReasoningModelsPutThinkBlocksInReasoningContent) {
  ServerSetup setup;
  // This template opens <think> in the generation prompt, so everything a
  // (random) model writes before </think> is reasoning.
  setup.chat_template = "chat_templates/deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja";
  TestServer server(setup);
  const Json body = {{"messages", {{{"role", "user"}, {"content", "think"}}}}, {"max_tokens", 6}, {"temperature", 0},
                     {"ignore_eos", true}};
  HttpReply r = Call(server.port(), "POST", "/v1/chat/completions", body.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  const Json message = Json::parse(r.body)["choices"][0]["message"];
  EXPECT_EQ(message["content"], "");
  ASSERT_TRUE(message["reasoning_content"].is_string());
  EXPECT_FALSE(message["reasoning_content"].get<std::string>().empty());
  Json streamed = body;
  streamed["stream"] = true;
  r = Call(server.port(), "POST", "/v1/chat/completions", streamed.dump());
  std::string reasoning;
  for (const std::string& e : r.Events()) {
    if (e == "[DONE]") break;
    const Json delta = Json::parse(e)["choices"][0]["delta"];
    EXPECT_FALSE(delta.contains("content") && !delta["content"].get<std::string>().empty()) << e;
    reasoning += delta.value("reasoning_content", "");
  }
  EXPECT_EQ(reasoning, message["reasoning_content"]);
}

TEST(Server, ClientRequestIdsAreEchoedAndReusable) {
  TestServer server;
  {
    RawConnection c(server.port());
    ASSERT_TRUE(c.Send(BuildRequest("POST", "/v1/completions", CompletionBody(PromptTokens(5, 8), 100, true).dump(),
                                    {"X-Request-Id: job-42"})));
    ASSERT_TRUE(c.ReadUntil("data: "));
  }  // disconnected mid-stream; the id is free again at once
  for (int i = 0; i < 2; ++i) {
    const HttpReply r = Call(server.port(), "POST", "/v1/completions", CompletionBody(PromptTokens(5, 8), 3, false).dump(),
                             {"X-Request-Id: job-42"});
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(Json::parse(r.body)["id"], "job-42");
  }
  EXPECT_EQ(Call(server.port(), "POST", "/v1/completions", CompletionBody(PromptTokens(5, 8), 3, false).dump(),
                 {"X-Request-Id: " + std::string(200, 'x')}).status, 400);
}

TEST(Server, KeepAliveServesSeveralRequestsOnOneConnection) {
  TestServer server;
  RawConnection c(server.port());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c.Send(BuildRequest("POST", "/v1/completions", CompletionBody(PromptTokens(i, 4), 3, i == 1).dump())));
    const auto reply = c.ReadReply();
    ASSERT_TRUE(reply.has_value()) << "request " << i;
    EXPECT_EQ(reply->status, 200);
  }
}

}  // namespace
}  // namespace tf::testing
