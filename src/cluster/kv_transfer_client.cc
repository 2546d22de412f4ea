#include "cluster/kv_transfer_client.h"

#include <utility>

#include <boost/asio.hpp>

#include <chrono>
#include <future>
#include <unordered_map>

#include <fmt/format.h>

#include "cluster/http_call.h"
#include "cluster/kv_transfer_connection.h"

namespace tf {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

class FillSession : public std::enable_shared_from_this<FillSession> {
 public:
  FillSession(uint64_t id, KvFillJob job, KvStorage* storage, std::function<void(KvFillResult)> done,
              const KvTransferClientOptions* options, std::shared_ptr<KvTransferClientStats> stats,
              asio::io_context* io)
      : id_(id), job_(std::move(job)), storage_(storage), done_(std::move(done)), options_(options),
        stats_(std::move(stats)), resolver_(*io), socket_(*io), timer_(*io),
        started_(std::chrono::steady_clock::now()) {
    const int64_t bs = storage_->block_size();
    last_block_ = (static_cast<int64_t>(job_.tokens.size()) + bs - 1) / bs - 1;
  }

  void Start() {
    stats_->fills.fetch_add(1);
    const int64_t deadline = job_.remote.deadline_ms > 0 ? job_.remote.deadline_ms : options_->default_deadline_ms;
    timer_.expires_after(std::chrono::milliseconds(deadline));
    timer_.async_wait([self = shared_from_this(), deadline](const boost::system::error_code& ec) {
      if (!ec) self->Finish(UnavailableError(fmt::format("the transfer's deadline of {} ms passed", deadline)));
    });
    StatusOr<std::pair<std::string, uint16_t>> peer = ParseHostPort(job_.remote.peer);
    if (!peer.ok()) return Finish(peer.status());
    resolver_.async_resolve(peer->first, std::to_string(peer->second),
                            [self = shared_from_this()](const boost::system::error_code& ec,
                                                        const tcp::resolver::results_type& results) {
                              if (self->finished_) return;
                              if (ec) return self->Finish(UnavailableError(fmt::format("resolving the prefill worker: {}", ec.message())));
                              asio::async_connect(self->socket_, results,
                                                  [self](const boost::system::error_code& e, const tcp::endpoint&) {
                                                    self->OnConnect(e);
                                                  });
                            });
  }

  void Finish(Status status) {
    if (finished_) return;
    finished_ = true;
    timer_.cancel();
    boost::system::error_code ignored;
    resolver_.cancel();
    if (conn_) {
      conn_->Close();
    } else {
      socket_.close(ignored);
    }
    result_.status = std::move(status);
    stats_->fills_complete.fetch_add(result_.status.ok() ? 1 : 0);
    stats_->fills_failed.fetch_add(result_.status.ok() ? 0 : 1);
    stats_->nanoseconds.fetch_add(static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - started_).count()));
    std::exchange(done_, nullptr)(std::move(result_));
  }

  bool finished() const { return finished_; }

 private:
  void OnConnect(const boost::system::error_code& ec) {
    if (finished_) return;
    if (ec) return Finish(UnavailableError(fmt::format("connecting to the prefill worker {}: {}", job_.remote.peer, ec.message())));
    conn_ = std::make_shared<KvTransferConnection>(std::move(socket_));
    // Weak: the connection keeps it, and the fill keeps the connection.
    conn_->set_on_write_error([weak = weak_from_this()](const Status& s) {
      if (auto self = weak.lock()) self->Finish(s);
    });
    Read(&FillSession::OnHello);
  }

  using Step = void (FillSession::*)(KvFrameType, std::span<const uint8_t>);
  void Read(Step step) {
    conn_->ReadFrame([self = shared_from_this(), step](const Status& s, KvFrameType type, std::span<const uint8_t> p) {
      if (self->finished_) return;
      if (!s.ok()) return self->Finish(s);
      if (type == KvFrameType::kError) {
        StatusOr<KvErrorFrame> e = ParseKvError(p);
        return self->Finish(UnavailableError(fmt::format("the prefill worker: {}", e.ok() ? e->message : e.status().message())));
      }
      ((*self).*step)(type, p);
    });
  }

  Status Expect(KvFrameType want, KvFrameType got) {
    if (want == got) return Status::Ok();
    return InvalidArgumentError(fmt::format("expected a {} frame from the prefill worker, got {}", KvFrameTypeName(want),
                                            KvFrameTypeName(got)));
  }

  void OnHello(KvFrameType type, std::span<const uint8_t> payload) {
    if (Status s = Expect(KvFrameType::kHello, type); !s.ok()) return Finish(s);
    StatusOr<KvHello> hello = ParseKvHello(payload);
    if (!hello.ok()) return Finish(hello.status());
    server_nonce_ = hello->nonce;
    request_.request_id = id_;
    request_.kv_fingerprint = job_.kv_fingerprint;
    request_.kv_type = static_cast<uint32_t>(storage_->type());
    request_.block_size = static_cast<uint32_t>(storage_->block_size());
    request_.block_bytes = storage_->block_bytes();
    request_.first_block = static_cast<uint32_t>(job_.first_block);
    request_.deadline_ms = static_cast<uint32_t>(job_.remote.deadline_ms > 0 ? job_.remote.deadline_ms
                                                                             : options_->default_deadline_ms);
    request_.tokens = job_.tokens;
    if (job_.remote.via_store && job_.store != nullptr) request_.flags |= kKvViaStore;
    request_.nonce = RandomKvNonce();
    if (options_->key != nullptr) request_.mac = options_->key->Sign(KvRequestMacMessage(server_nonce_, request_));
    conn_->Write(EncodeKvPrefillRequest(request_));
    Read(&FillSession::OnAccept);
  }

  void OnAccept(KvFrameType type, std::span<const uint8_t> payload) {
    if (Status s = Expect(KvFrameType::kAccept, type); !s.ok()) return Finish(s);
    StatusOr<KvAccept> accept = ParseKvAccept(payload);
    if (!accept.ok()) return Finish(accept.status());
    if (options_->key != nullptr &&
        !options_->key->Verify(KvAcceptMacMessage(server_nonce_, request_), accept->mac)) {
      return Finish(InvalidArgumentError("the prefill worker's accept does not verify under the cluster key"));
    }
    next_block_ = job_.first_block;
    Read(&FillSession::OnBlockOrDone);
  }

  void OnBlockOrDone(KvFrameType type, std::span<const uint8_t> payload) {
    if (type == KvFrameType::kDone) return OnDone(payload);
    if (Status s = Expect(KvFrameType::kBlock, type); !s.ok()) return Finish(s);
    StatusOr<KvBlockFrame> block = ParseKvBlockFrame(payload);
    if (!block.ok()) return Finish(block.status());
    if (Status s = Accept(*block); !s.ok()) return Finish(s);
    Read(&FillSession::OnBlockOrDone);
  }

  Status Accept(const KvBlockFrame& block) {
    const int64_t bs = storage_->block_size();
    if (block.index != next_block_ || next_block_ > last_block_) {
      return InvalidArgumentError(fmt::format("block frame index {}, expected {} (of blocks {}..{})", block.index,
                                              next_block_, job_.first_block, last_block_));
    }
    const int64_t want_tokens = std::min<int64_t>(bs, static_cast<int64_t>(job_.tokens.size()) - next_block_ * bs);
    if (block.num_tokens != want_tokens) {
      return InvalidArgumentError(fmt::format("block {} holds {} tokens, expected {}", block.index, block.num_tokens, want_tokens));
    }
    const bool full = want_tokens == bs;
    const int64_t slot = next_block_ - job_.first_block;
    if (full && !(block.hash == job_.hashes[slot])) {
      return InvalidArgumentError(fmt::format("block {} hash differs: the prefill worker computed other tokens", block.index));
    }
    if (block.payload.empty()) return ImportFromStore(block, slot);
    if (block.payload.size() != storage_->block_bytes()) {
      return InvalidArgumentError(fmt::format("block {} payload of {} bytes, expected {}", block.index,
                                              block.payload.size(), storage_->block_bytes()));
    }
    if (KvPayloadChecksum(block.payload) != block.checksum) {
      return DataLossError(fmt::format("block {} payload checksum mismatch", block.index));
    }
    TF_RETURN_IF_ERROR(storage_->ImportBlock(job_.blocks[slot], block.payload));
    ++next_block_;
    result_.bytes_received += block.payload.size();
    stats_->blocks_received.fetch_add(1);
    stats_->bytes_received.fetch_add(block.payload.size());
    if (full) {
      result_.filled_hashes.push_back(block.hash);
      result_.num_tokens_filled += bs;
    } else {
      partial_tokens_ = want_tokens;  // counted once everything arrived
    }
    return Status::Ok();
  }

  // A full block the prefill worker persisted in the shared store: read
  // (the store verifies the file) and imported like received bytes.
  Status ImportFromStore(const KvBlockFrame& block, int64_t slot) {
    if ((request_.flags & kKvViaStore) == 0 || block.num_tokens != static_cast<uint32_t>(storage_->block_size())) {
      return InvalidArgumentError(fmt::format("block {} came without its payload", block.index));
    }
    std::vector<uint8_t> file;
    std::span<const uint8_t> payload;
    if (job_.store->Read(block.hash, &file, &payload) != StoreRead::kHit) {
      return DataLossError(fmt::format("block {} is not in the shared KV store", block.index));
    }
    TF_RETURN_IF_ERROR(storage_->ImportBlock(job_.blocks[slot], payload));
    ++next_block_;
    stats_->blocks_via_store.fetch_add(1);
    result_.filled_hashes.push_back(block.hash);
    result_.num_tokens_filled += block.num_tokens;
    return Status::Ok();
  }

  void OnDone(std::span<const uint8_t> payload) {
    StatusOr<KvDone> done = ParseKvDone(payload);
    if (!done.ok()) return Finish(done.status());
    const int64_t expected = last_block_ - job_.first_block + 1;
    if (next_block_ != last_block_ + 1 || done->num_blocks != expected) {
      return Finish(InvalidArgumentError(fmt::format("the prefill worker finished after {} of {} blocks (it says {})",
                                                     next_block_ - job_.first_block, expected, done->num_blocks)));
    }
    result_.num_tokens_filled += partial_tokens_;
    conn_->Write(EncodeKvAck());
    // The fill stays alive through the ack's write (it holds the connection,
    // whose write handler holds itself); the callback must not hold the fill.
    conn_->WhenFlushed([weak = weak_from_this()] {
      if (auto self = weak.lock()) self->Finish(Status::Ok());
    });
  }

  uint64_t id_;
  KvFillJob job_;
  KvStorage* storage_;
  std::function<void(KvFillResult)> done_;
  const KvTransferClientOptions* options_;
  std::shared_ptr<KvTransferClientStats> stats_;
  tcp::resolver resolver_;
  tcp::socket socket_;
  asio::steady_timer timer_;
  std::shared_ptr<KvTransferConnection> conn_;
  std::chrono::steady_clock::time_point started_;
  KvNonce server_nonce_{};
  KvPrefillRequest request_;
  KvFillResult result_;
  int64_t last_block_ = 0;
  int64_t next_block_ = 0;
  int64_t partial_tokens_ = 0;
  bool finished_ = false;
};

}  // namespace

struct KvTransferClient::Impl {
  KvTransferClientOptions options;
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  std::unordered_map<uint64_t, std::weak_ptr<FillSession>> fills;  // io thread only
  std::atomic<uint64_t> next_id{1};
};

KvTransferClient::KvTransferClient(KvTransferClientOptions options)
    : impl_(std::make_shared<Impl>()), stats_(std::make_shared<KvTransferClientStats>()) {
  impl_->options = options;
  thread_ = std::thread([impl = impl_.get()] { impl->io.run(); });
}

KvTransferClient::~KvTransferClient() { Stop(); }

uint64_t KvTransferClient::StartFill(KvFillJob job, KvStorage* storage, std::function<void(KvFillResult)> done) {
  const uint64_t id = impl_->next_id.fetch_add(1);
  auto session = std::make_shared<FillSession>(id, std::move(job), storage, std::move(done), &impl_->options, stats_,
                                               &impl_->io);
  asio::post(impl_->io, [impl = impl_.get(), id, session] {
    std::erase_if(impl->fills, [](const auto& kv) { return kv.second.expired(); });
    impl->fills[id] = session;
    session->Start();
  });
  return id;
}

void KvTransferClient::CancelFill(uint64_t fill_id) {
  asio::post(impl_->io, [impl = impl_.get(), fill_id] {
    const auto it = impl->fills.find(fill_id);
    if (it == impl->fills.end()) return;
    if (auto s = it->second.lock()) s->Finish(UnavailableError("the request was cancelled"));
  });
}

void KvTransferClient::Stop() {
  if (!thread_.joinable()) return;
  std::promise<void> ended;
  asio::post(impl_->io, [impl = impl_.get(), &ended] {
    for (auto& [id, weak] : impl->fills) {
      if (auto s = weak.lock()) s->Finish(UnavailableError("the decode worker is stopping"));
    }
    ended.set_value();
  });
  ended.get_future().wait();
  impl_->work.reset();
  impl_->io.stop();
  thread_.join();
}

}  // namespace tf
