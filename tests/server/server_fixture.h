// An ApiServer on a loopback port in this process, over a fixture model and
// a real engine, with the io loop on its own thread. Tests talk to it only
// through sockets; the engine is reachable for fault injection.
#pragma once

#include <memory>
#include <string>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "common/fixtures.h"
#include "common/load_pool.h"
#include "engine/engine.h"
#include "gguf/gguf_file.h"
#include "model/model.h"
#include "server/api_server.h"
#include "server/engine_backend.h"
#include "jinja/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace tf::testing {

struct ServerSetup {
  std::string model = "tiny-llama-spm-q8_0";
  std::string chat_template = "chat_templates/Qwen-Qwen2.5-7B-Instruct.jinja";
  EngineConfig engine = [] {
    EngineConfig c;
    c.block_size = 16;
    c.num_kv_blocks = 512;
    c.ctx_size = 256;
    c.sched.max_num_seqs = 64;
    c.sched.max_batch_tokens = 256;
    c.sched.max_queue = 256;
    return c;
  }();
  ApiServerOptions api;
};

class TestServer {
 public:
  explicit TestServer(const ServerSetup& setup = ServerSetup{}) {
    file_ = std::move(*GgufFile::Open(FixturePath("models/" + setup.model + ".gguf")));
    model_ = std::move(*LoadModel(*file_, ModelOptions{}, testing::LoadPool()));
    tokenizer_ = std::move(*Tokenizer::FromGguf(*file_));
    std::ifstream in(FixturePath(setup.chat_template));
    std::stringstream source;
    source << in.rdbuf();
    chat_template_ = std::move(*ChatTemplate::Parse(source.str()));
    pool_ = std::make_unique<ThreadPool>(2);
    auto engine = Engine::Create(model_.get(), tokenizer_.get(), pool_.get(), setup.engine, "fixture:" + setup.model);
    EXPECT_TRUE(engine.ok()) << engine.status().message();
    engine_ = std::move(*engine);
    ServedModel served_;
    served_.name = setup.model;
    served_.tokenizer = tokenizer_.get();
    served_.chat_template = chat_template_.get();
    served_.reasoning = TemplateUsesThinking(source.str());
    served_.ctx_size = setup.engine.ctx_size;
    served_.n_vocab = model_->config().n_vocab;
    EXPECT_TRUE(backend_.AddModel(served_, engine_.get()).ok());
    server_ = std::make_unique<ApiServer>(&io_, setup.api);
    EXPECT_TRUE(server_->Listen("127.0.0.1", 0).ok());
    server_->SetBackend(&backend_);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~TestServer() {
    io_.stop();
    thread_.join();
    engine_->Shutdown();
    server_.reset();
  }
  uint16_t port() const { return server_->port(); }
  Engine* engine() { return engine_.get(); }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  // Runs `fn` on the io thread and waits for it.
  template <typename Fn>
  void OnIoThread(Fn fn) {
    std::promise<void> done;
    boost::asio::post(io_, [&] {
      fn();
      done.set_value();
    });
    done.get_future().wait();
  }
  ApiServer* server() { return server_.get(); }

 private:
  std::unique_ptr<GgufFile> file_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<ChatTemplate> chat_template_;
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<Engine> engine_;
  EngineBackend backend_;
  boost::asio::io_context io_{1};
  std::unique_ptr<ApiServer> server_;
  std::thread thread_;
};

}  // namespace tf::testing
