// The OpenAI layer over its generation-backend interface: one server
// serving two real models by name (each request reaches its own engine and
// gets what that model alone gives), and a scripted backend standing in for
// what a router will be, to show that the server code depends only on the
// interface (models, submit, abort, stats, health) and maps the backend's
// errors, parameter included, in one place.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "common/fixtures.h"
#include "common/load_pool.h"
#include "engine/engine.h"
#include "gguf/gguf_file.h"
#include "model/model.h"
#include "server/api_server.h"
#include "server/engine_backend.h"
#include "server/test_http.h"
#include "tokenizer/tokenizer.h"

namespace tf::testing {
namespace {

using Json = nlohmann::json;

// An ApiServer on loopback over any backend, its io loop on a thread.
class ServerOver {
 public:
  explicit ServerOver(GenerationBackend* backend) : server_(&io_, ApiServerOptions{}) {
    EXPECT_TRUE(server_.Listen("127.0.0.1", 0).ok());
    server_.SetBackend(backend);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~ServerOver() {
    io_.stop();
    thread_.join();
  }
  uint16_t port() const { return server_.port(); }

 private:
  boost::asio::io_context io_{1};
  ApiServer server_;
  std::thread thread_;
};

// A fixture model with its own engine.
struct LoadedEngine {
  explicit LoadedEngine(const std::string& name) {
    file = std::move(*GgufFile::Open(FixturePath("models/" + name + ".gguf")));
    model = std::move(*LoadModel(*file, ModelOptions{}, LoadPool()));
    tokenizer = std::move(*Tokenizer::FromGguf(*file));
    EngineConfig c;
    c.block_size = 16;
    c.num_kv_blocks = 64;
    c.ctx_size = 128;
    engine = std::move(*Engine::Create(model.get(), tokenizer.get(), &pool, c, "fixture:" + name));
    served.name = name;
    served.tokenizer = tokenizer.get();
    served.ctx_size = c.ctx_size;
    served.n_vocab = model->config().n_vocab;
  }
  ~LoadedEngine() { engine->Shutdown(); }
  std::unique_ptr<GgufFile> file;
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;
  ThreadPool pool{2};
  std::unique_ptr<Engine> engine;
  ServedModel served;
};

std::string Completion(uint16_t port, const std::string& model, int* status = nullptr) {
  Json body = {{"prompt", {1, 2, 3, 4, 5}}, {"max_tokens", 6}, {"temperature", 0}, {"ignore_eos", true}};
  if (!model.empty()) body["model"] = model;
  const HttpReply r = Call(port, "POST", "/v1/completions", body.dump());
  if (status != nullptr) *status = r.status;
  if (r.status != 200) return r.body;
  return Json::parse(r.body)["choices"][0]["text"].get<std::string>();
}

TEST(BackendTest, OneServerServesTwoModelsByName) {
  LoadedEngine llama("tiny-llama-spm-q8_0"), qwen("tiny-qwen2-gpt2-bf16");
  // Each model alone first.
  std::string llama_alone, qwen_alone;
  {
    EngineBackend only_llama;
    ASSERT_TRUE(only_llama.AddModel(llama.served, llama.engine.get()).ok());
    ServerOver server(&only_llama);
    llama_alone = Completion(server.port(), "");
  }
  {
    EngineBackend only_qwen;
    ASSERT_TRUE(only_qwen.AddModel(qwen.served, qwen.engine.get()).ok());
    ServerOver server(&only_qwen);
    qwen_alone = Completion(server.port(), "");
  }
  ASSERT_NE(llama_alone, qwen_alone);

  EngineBackend both;
  ASSERT_TRUE(both.AddModel(llama.served, llama.engine.get()).ok());
  ASSERT_TRUE(both.AddModel(qwen.served, qwen.engine.get()).ok());
  EXPECT_FALSE(both.AddModel(qwen.served, qwen.engine.get()).ok()) << "a name is served once";
  ServerOver server(&both);
  const Json models = Json::parse(Call(server.port(), "GET", "/v1/models").body);
  ASSERT_EQ(models["data"].size(), 2u);
  EXPECT_EQ(models["data"][0]["id"], "tiny-llama-spm-q8_0");
  EXPECT_EQ(models["data"][1]["id"], "tiny-qwen2-gpt2-bf16");
  EXPECT_EQ(Completion(server.port(), "tiny-qwen2-gpt2-bf16"), qwen_alone);
  EXPECT_EQ(Completion(server.port(), "tiny-llama-spm-q8_0"), llama_alone);
  EXPECT_EQ(Completion(server.port(), ""), llama_alone) << "no model named: the first one serves";
  int status = 0;
  const Json missing = Json::parse(Completion(server.port(), "gpt-4", &status));
  EXPECT_EQ(status, 404);
  EXPECT_EQ(missing["error"]["code"], "model_not_found");
  EXPECT_EQ(missing["error"]["param"], "model");
  EXPECT_NE(missing["error"]["message"].get<std::string>().find("'tiny-qwen2-gpt2-bf16'"), std::string::npos);
  // Token ids are checked against the model they go to (qwen2 has more).
  const Json big = {{"model", "tiny-llama-spm-q8_0"}, {"prompt", {40000}}, {"max_tokens", 1}};
  EXPECT_EQ(Call(server.port(), "POST", "/v1/completions", big.dump()).status, 400);
  const EngineStats stats = both.Stats();
  EXPECT_EQ(stats.kv_blocks_total, 128);  // both pools
  EXPECT_EQ(Call(server.port(), "GET", "/health").status, 200);
}

// Answers every request with a fixed text, or refuses it as the script says.
class ScriptedBackend final : public GenerationBackend {
 public:
  ScriptedBackend() {
    model_.name = "scripted";
    model_.tokenizer = nullptr;  // only token-id prompts reach it in this test
    model_.ctx_size = 64;
    model_.n_vocab = 100;
  }
  std::vector<const ServedModel*> models() const override { return {&model_}; }
  StatusOr<uint64_t> Submit(const ServedModel&, GenerationRequest request) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!refusal_.ok()) return refusal_;
    submitted_.push_back(request.prompt);
    StreamDelta text;
    text.text = "scripted reply";
    text.num_tokens = 2;
    request.sink->OnDelta(text);
    StreamDelta last;
    last.finished = true;
    last.finish_reason = FinishReason::kLength;
    last.usage.prompt_tokens = static_cast<int64_t>(request.prompt.size());
    last.usage.completion_tokens = 2;
    request.sink->OnDelta(last);
    return ++next_handle_;
  }
  void Abort(uint64_t) override {}
  EngineStats Stats() const override {
    EngineStats s;
    s.kv_blocks_total = 7;
    return s;
  }
  BackendHealth Health() const override { return {healthy_, healthy_ ? "" : "all workers are gone", ""}; }

  void Refuse(Status s) {
    std::lock_guard<std::mutex> lock(mu_);
    refusal_ = std::move(s);
  }
  void set_healthy(bool h) { healthy_ = h; }
  std::vector<std::vector<int32_t>> submitted() {
    std::lock_guard<std::mutex> lock(mu_);
    return submitted_;
  }

 private:
  ServedModel model_;
  std::mutex mu_;
  Status refusal_;
  std::vector<std::vector<int32_t>> submitted_;
  uint64_t next_handle_ = 0;
  std::atomic<bool> healthy_{true};
};

TEST(BackendTest, TheServerNeedsOnlyTheInterfaceAndMapsItsErrorsInOnePlace) {
  ScriptedBackend backend;
  ServerOver server(&backend);
  const Json body = {{"prompt", {5, 6, 7}}, {"max_tokens", 2}};
  HttpReply r = Call(server.port(), "POST", "/v1/completions", body.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json::parse(r.body)["choices"][0]["text"], "scripted reply");
  EXPECT_EQ(Json::parse(r.body)["model"], "scripted");
  EXPECT_EQ(backend.submitted(), (std::vector<std::vector<int32_t>>{{5, 6, 7}}));
  EXPECT_EQ(ScrapeMetric(server.port(), "tokenfab_kv_blocks_total"), 7);

  // The backend names the parameter as data; the server reports the client's name for it.
  backend.Refuse(InvalidArgumentError("max_tokens 0 must be at least 1").WithParam("max_tokens"));
  r = Call(server.port(), "POST", "/v1/completions", body.dump());
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Json::parse(r.body)["error"]["param"], "max_tokens");
  const Json newer = {{"prompt", {5, 6, 7}}, {"max_completion_tokens", 2}};
  r = Call(server.port(), "POST", "/v1/completions", newer.dump());
  EXPECT_EQ(Json::parse(r.body)["error"]["param"], "max_completion_tokens");
  backend.Refuse(InvalidArgumentError("too long").WithParam("prompt").WithReason("context_length_exceeded"));
  r = Call(server.port(), "POST", "/v1/completions", body.dump());
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Json::parse(r.body)["error"]["code"], "context_length_exceeded");
  EXPECT_EQ(Json::parse(r.body)["error"]["param"], "prompt");
  backend.Refuse(ResourceExhaustedError("queue full"));
  r = Call(server.port(), "POST", "/v1/completions", body.dump());
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.headers["retry-after"], "1");
  EXPECT_EQ(Json::parse(r.body)["error"]["type"], "rate_limit_error");
  backend.Refuse(UnavailableError("no worker"));
  EXPECT_EQ(Call(server.port(), "POST", "/v1/completions", body.dump()).status, 503);
  backend.Refuse(InternalError("bug"));
  r = Call(server.port(), "POST", "/v1/completions", body.dump());
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(Json::parse(r.body)["error"]["type"], "server_error");

  backend.set_healthy(false);
  r = Call(server.port(), "GET", "/health");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(Json::parse(r.body)["message"], "all workers are gone");
  EXPECT_EQ(Call(server.port(), "POST", "/v1/completions", body.dump()).status, 503);
}

}  // namespace
}  // namespace tf::testing
