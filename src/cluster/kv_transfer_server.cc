#include "cluster/kv_transfer_server.h"

#include <utility>

#include <boost/asio.hpp>

#include <future>
#include <mutex>
#include <unordered_map>

#include <fmt/format.h>

#include "base/logging.h"
#include "cluster/kv_transfer_connection.h"

namespace tf {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

class Session;

// Payload buffers recycled between the engine thread (which fills them) and
// the io thread (which sends them), so exporting a block costs one copy and
// no allocation, zero fill or page fault. Holds a bounded number.
class PayloadPool {
 public:
  std::vector<uint8_t> Get(size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      while (!free_.empty()) {
        std::vector<uint8_t> v = std::move(free_.back());
        free_.pop_back();
        if (v.size() == bytes) return v;
      }
    }
    return std::vector<uint8_t>(bytes);
  }
  void Put(std::vector<uint8_t> v) {
    std::lock_guard<std::mutex> lock(mu_);
    if (free_.size() < kMaxFree) free_.push_back(std::move(v));
  }

 private:
  static constexpr size_t kMaxFree = 64;
  std::mutex mu_;
  std::vector<std::vector<uint8_t>> free_;
};

// What the engine thread calls: both hand over to the io thread, where the
// session may already be gone.
class SessionExporter : public KvBlockExporter, public RequestSink {
 public:
  SessionExporter(std::shared_ptr<asio::io_context> io, std::weak_ptr<Session> session, std::shared_ptr<PayloadPool> pool)
      : io_(std::move(io)), session_(std::move(session)), pool_(std::move(pool)) {}
  void OnBlock(int64_t index, int32_t num_tokens, const BlockHash& hash, std::vector<uint8_t> payload) override;
  void OnDelta(StreamDelta delta) override;
  std::vector<uint8_t> NewPayload(size_t bytes) override { return pool_->Get(bytes); }

 private:
  std::shared_ptr<asio::io_context> io_;
  std::weak_ptr<Session> session_;
  std::shared_ptr<PayloadPool> pool_;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const KvTransferServerOptions* options, std::shared_ptr<asio::io_context> io,
          std::shared_ptr<KvTransferServerStats> stats, std::shared_ptr<PayloadPool> pool)
      : conn_(std::make_shared<KvTransferConnection>(std::move(socket))), options_(options), io_(io),
        stats_(std::move(stats)), pool_(std::move(pool)), timer_(*io), nonce_(RandomKvNonce()) {}

  void Start() {
    stats_->active.fetch_add(1);
    // The connection keeps these callbacks: weak, or session and connection
    // would own each other.
    conn_->set_on_write_error([weak = weak_from_this()](const Status& s) {
      if (auto self = weak.lock()) self->Fail(s.message(), false);
    });
    conn_->set_on_payload_sent([pool = pool_](std::vector<uint8_t> v) { pool->Put(std::move(v)); });
    conn_->Write(EncodeKvHello({nonce_}));
    Arm(options_->handshake_timeout_ms, "no prefill request within the handshake timeout");
    conn_->ReadFrame([self = shared_from_this()](const Status& s, KvFrameType type, std::span<const uint8_t> payload) {
      self->OnRequest(s, type, payload);
    });
  }

  void OnBlock(int64_t index, int32_t num_tokens, const BlockHash& hash, std::vector<uint8_t> payload) {
    if (ended_) return;
    KvBlockFrame block;
    block.index = static_cast<uint32_t>(index);
    block.num_tokens = static_cast<uint32_t>(num_tokens);
    block.hash = hash;
    if (PersistToStore(index, num_tokens, hash, payload)) {
      stats_->blocks_via_store.fetch_add(1);
      conn_->Write(EncodeKvBlockFrameHead(block));
      ++blocks_sent_;
      return;
    }
    block.checksum = KvPayloadChecksum(payload);
    block.payload = payload;
    held_bytes_ += static_cast<int64_t>(payload.size());
    stats_->bytes_held.fetch_add(static_cast<int64_t>(payload.size()));
    conn_->Write(EncodeKvBlockFrameHead(block), std::move(payload));
    ++blocks_sent_;
  }

  void OnFinal(const StreamDelta& delta) {
    engine_done_ = true;
    if (ended_) return;
    if (delta.finish_reason != FinishReason::kLength) {
      Fail(fmt::format("the prefill failed: {}", delta.error.empty() ? FinishReasonName(delta.finish_reason) : delta.error),
           true);
      return;
    }
    conn_->Write(EncodeKvDone({blocks_sent_}));
    awaiting_ack_ = true;
  }

  void Stop() { Fail("the prefill worker is stopping", true); }

  // The shared-store path: a full block is written to the store before its
  // frame (hash only) goes out, so the decode worker finds it there. False:
  // send the bytes (not asked for, a partial block, or the write failed).
  bool PersistToStore(int64_t index, int32_t num_tokens, const BlockHash& hash, std::span<const uint8_t> payload) {
    if (!via_store_ || num_tokens != static_cast<int32_t>(target_->block_size)) return false;
    const int64_t bs = num_tokens;
    if (chain_.empty()) chain_ = ChainBlockHashes(RootBlockHash(target_->kv_fingerprint), tokens_, static_cast<int>(bs),
                                                  static_cast<int64_t>(tokens_.size()) / bs);
    if (index >= static_cast<int64_t>(chain_.size()) || !(chain_[index] == hash)) return false;
    const BlockHash parent = index == 0 ? RootBlockHash(target_->kv_fingerprint) : chain_[index - 1];
    const Status s = target_->persist(parent, std::span<const int32_t>(tokens_).subspan(index * bs, bs), payload, hash);
    if (!s.ok()) {
      TF_LOG_WARN("kv-transfer: could not persist block {} to the shared store ({}); sending its bytes", index, s.message());
      return false;
    }
    return true;
  }

 private:
  void Arm(int64_t ms, std::string why) {
    timer_.expires_after(std::chrono::milliseconds(ms));
    timer_.async_wait([self = shared_from_this(), why = std::move(why)](const boost::system::error_code& ec) {
      if (!ec) self->Fail(why, true);
    });
  }

  void Refuse(const std::string& why) {
    stats_->refused.fetch_add(1);
    TF_LOG_WARN("kv-transfer: refused a request from {}: {}", Peer(), why);
    SendErrorAndEnd(why);
  }

  void OnRequest(const Status& s, KvFrameType type, std::span<const uint8_t> payload) {
    if (ended_) return;
    if (!s.ok()) return Refuse(s.message());
    if (type != KvFrameType::kPrefillRequest) return Refuse(fmt::format("expected a prefill-request frame, got {}", KvFrameTypeName(type)));
    StatusOr<KvPrefillRequest> req = ParseKvPrefillRequest(payload);
    if (!req.ok()) return Refuse(req.status().message());
    const Status checked = Check(*req);
    if (!checked.ok()) return Refuse(checked.message());
    GenerationRequest gen;
    gen.prompt = req->tokens;
    gen.max_tokens = 1;
    gen.export_from_block = req->first_block;
    std::shared_ptr<asio::io_context> io = io_.lock();
    if (!io) return;  // the server is going away
    auto exporter = std::make_shared<SessionExporter>(std::move(io), weak_from_this(), pool_);
    gen.kv_exporter = exporter;
    gen.sink = exporter;
    via_store_ = (req->flags & kKvViaStore) != 0 && target_->persist != nullptr;
    if (via_store_) tokens_ = req->tokens;
    StatusOr<uint64_t> handle = target_->submit(std::move(gen));
    if (!handle.ok()) return Refuse(fmt::format("the engine refused the prefill: {}", handle.status().message()));
    handle_ = *handle;
    submitted_ = true;
    stats_->transfers_started.fetch_add(1);
    KvAccept accept;
    if (options_->key != nullptr) accept.mac = options_->key->Sign(KvAcceptMacMessage(nonce_, *req));
    conn_->Write(EncodeKvAccept(accept));
    const int64_t deadline = std::min<int64_t>(req->deadline_ms == 0 ? options_->max_deadline_ms : req->deadline_ms,
                                               options_->max_deadline_ms);
    Arm(deadline, fmt::format("the transfer's deadline of {} ms passed", deadline));
    ReadPeer();
  }

  Status Check(const KvPrefillRequest& req) {
    if (options_->key != nullptr && !options_->key->Verify(KvRequestMacMessage(nonce_, req), req.mac)) {
      return InvalidArgumentError("the request's mac does not verify under this worker's cluster key");
    }
    for (const KvTransferTarget& t : options_->targets) {
      if (t.kv_fingerprint != req.kv_fingerprint) continue;
      if (t.kv_type != req.kv_type || t.block_size != req.block_size || t.block_bytes != req.block_bytes) {
        return InvalidArgumentError(fmt::format(
            "KV format mismatch: the request has kv_type {} block_size {} block_bytes {}, this worker {} {} {}",
            req.kv_type, req.block_size, req.block_bytes, t.kv_type, t.block_size, t.block_bytes));
      }
      target_ = &t;
      return Status::Ok();
    }
    return InvalidArgumentError(fmt::format("no model here has KV fingerprint \"{}\"", req.kv_fingerprint));
  }

  void ReadPeer() {
    conn_->ReadFrame([self = shared_from_this()](const Status& s, KvFrameType type, std::span<const uint8_t> payload) {
      if (self->ended_) return;
      if (!s.ok()) return self->Fail(fmt::format("the decode worker went away ({})", s.message()), false);
      if (type == KvFrameType::kAck && self->awaiting_ack_) {
        self->stats_->transfers_acked.fetch_add(1);
        return self->End();
      }
      if (type == KvFrameType::kError) {
        StatusOr<KvErrorFrame> e = ParseKvError(payload);
        return self->Fail(fmt::format("the decode worker gave up: {}", e.ok() ? e->message : "(unreadable error)"), false);
      }
      self->Fail(fmt::format("unexpected {} frame from the decode worker", KvFrameTypeName(type)), true);
    });
  }

  void Fail(const std::string& why, bool tell_peer) {
    if (ended_) return;
    stats_->transfers_failed.fetch_add(submitted_ ? 1 : 0);
    TF_LOG_WARN("kv-transfer: request from {} ended: {}", Peer(), why);
    if (tell_peer) {
      SendErrorAndEnd(why);
    } else {
      End();
    }
  }

  void SendErrorAndEnd(const std::string& why) {
    if (ended_) return;
    conn_->Write(EncodeKvError(why));
    // Give the error a moment to leave, then close regardless.
    conn_->WhenFlushed([weak = weak_from_this()] {
      if (auto self = weak.lock()) self->End();
    });
    auto self = shared_from_this();
    timer_.expires_after(std::chrono::milliseconds(500));
    timer_.async_wait([self](const boost::system::error_code& ec) {
      if (!ec) self->End();
    });
  }

  void End() {
    if (ended_) return;
    ended_ = true;
    if (submitted_ && !engine_done_) target_->abort(handle_);
    stats_->bytes_sent.fetch_add(conn_->bytes_written());
    stats_->bytes_held.fetch_sub(held_bytes_);
    held_bytes_ = 0;
    stats_->active.fetch_sub(1);
    timer_.cancel();
    conn_->Close();
  }

  std::string Peer() {
    boost::system::error_code ec;
    const tcp::endpoint ep = conn_->socket().remote_endpoint(ec);
    return ec ? std::string("(unknown peer)") : fmt::format("{}:{}", ep.address().to_string(), ep.port());
  }

  std::shared_ptr<KvTransferConnection> conn_;
  const KvTransferServerOptions* options_;
  // Weak: handlers queued on the io_context hold sessions, so a session
  // owning it would keep both alive after the server stopped.
  std::weak_ptr<asio::io_context> io_;
  std::shared_ptr<KvTransferServerStats> stats_;
  std::shared_ptr<PayloadPool> pool_;
  asio::steady_timer timer_;
  KvNonce nonce_;
  const KvTransferTarget* target_ = nullptr;
  uint64_t handle_ = 0;
  bool submitted_ = false;
  bool engine_done_ = false;
  bool awaiting_ack_ = false;
  bool ended_ = false;
  uint32_t blocks_sent_ = 0;
  int64_t held_bytes_ = 0;
  bool via_store_ = false;
  std::vector<int32_t> tokens_;  // with via_store_: the request's, for the store's block files
  std::vector<BlockHash> chain_;
};

void SessionExporter::OnBlock(int64_t index, int32_t num_tokens, const BlockHash& hash, std::vector<uint8_t> payload) {
  asio::post(*io_, [s = session_, index, num_tokens, hash, payload = std::move(payload)]() mutable {
    if (auto session = s.lock()) session->OnBlock(index, num_tokens, hash, std::move(payload));
  });
}

void SessionExporter::OnDelta(StreamDelta delta) {
  if (!delta.finished) return;
  asio::post(*io_, [s = session_, delta = std::move(delta)] {
    if (auto session = s.lock()) session->OnFinal(delta);
  });
}

}  // namespace

struct KvTransferServer::Impl {
  KvTransferServerOptions options;
  std::shared_ptr<asio::io_context> io = std::make_shared<asio::io_context>();
  tcp::acceptor acceptor{*io};
  std::shared_ptr<KvTransferServerStats> stats;
  std::shared_ptr<PayloadPool> pool = std::make_shared<PayloadPool>();
  std::vector<std::weak_ptr<Session>> sessions;

  void Accept() {
    acceptor.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
      if (!ec) {
        std::erase_if(sessions, [](const std::weak_ptr<Session>& s) { return s.expired(); });
        if (static_cast<int>(sessions.size()) >= options.max_connections) {
          TF_LOG_WARN("kv-transfer: {} connections open, refusing another", sessions.size());
          stats->refused.fetch_add(1);
        } else {
          auto session = std::make_shared<Session>(std::move(socket), &options, io, stats, pool);
          sessions.push_back(session);
          session->Start();
        }
      }
      Accept();
    });
  }
};

StatusOr<std::unique_ptr<KvTransferServer>> KvTransferServer::Start(KvTransferServerOptions options) {
  auto server = std::unique_ptr<KvTransferServer>(new KvTransferServer());
  server->impl_ = std::make_shared<Impl>();
  server->stats_ = std::make_shared<KvTransferServerStats>();
  Impl& impl = *server->impl_;
  impl.options = std::move(options);
  impl.stats = server->stats_;
  boost::system::error_code ec;
  const asio::ip::address address = asio::ip::make_address(impl.options.host, ec);
  if (ec) return InvalidArgumentError(fmt::format("--kv-transfer host \"{}\" is not an IP address", impl.options.host));
  const tcp::endpoint endpoint(address, impl.options.port);
  impl.acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl.acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) impl.acceptor.bind(endpoint, ec);
  if (!ec) impl.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return UnavailableError(fmt::format("cannot listen for KV transfers on {}:{}: {}", impl.options.host,
                                        impl.options.port, ec.message()));
  }
  server->port_ = impl.acceptor.local_endpoint().port();
  impl.Accept();
  server->thread_ = std::thread([io = impl.io] { io->run(); });
  return server;
}

KvTransferServer::~KvTransferServer() { Stop(); }

std::string RenderKvTransferServerMetrics(const KvTransferServerStats& s) {
  std::string out;
  const auto metric = [&](const char* name, const char* help, const char* type, double v) {
    out += fmt::format("# HELP tokenfab_kv_transfer_server_{0} {1}\n# TYPE tokenfab_kv_transfer_server_{0} {2}\n"
                       "tokenfab_kv_transfer_server_{0} {3}\n", name, help, type, v);
  };
  metric("transfers_total", "Prefill requests accepted from decode workers", "counter",
         static_cast<double>(s.transfers_started.load()));
  metric("acked_total", "Of those, acknowledged by the decode worker", "counter", static_cast<double>(s.transfers_acked.load()));
  metric("failed_total", "Of those, ended by a deadline, a broken connection or an engine error", "counter",
         static_cast<double>(s.transfers_failed.load()));
  metric("refused_total", "Connections refused (bad frames, keys, KV formats, too many)", "counter",
         static_cast<double>(s.refused.load()));
  metric("sent_bytes_total", "Bytes sent to decode workers", "counter", static_cast<double>(s.bytes_sent.load()));
  metric("store_blocks_total", "Full blocks persisted to the shared KV store and sent as hashes", "counter",
         static_cast<double>(s.blocks_via_store.load()));
  metric("active", "Transfers in progress", "gauge", static_cast<double>(s.active.load()));
  metric("held_bytes", "KV block copies waiting to be sent or acknowledged", "gauge", static_cast<double>(s.bytes_held.load()));
  return out;
}

void KvTransferServer::Stop() {
  if (!thread_.joinable()) return;
  std::promise<void> closed;
  asio::post(*impl_->io, [impl = impl_.get(), &closed] {
    boost::system::error_code ignored;
    impl->acceptor.close(ignored);
    for (auto& weak : impl->sessions) {
      if (auto s = weak.lock()) s->Stop();
    }
    closed.set_value();
  });
  closed.get_future().wait();
  // Error frames get a moment to leave; whatever the engine posts later is
  // dropped with the io_context (kept alive by the engine's exporters).
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  impl_->io->stop();
  thread_.join();
}

}  // namespace tf
