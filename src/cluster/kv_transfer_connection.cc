#include "cluster/kv_transfer_connection.h"

#include <fmt/format.h>

namespace tf {

namespace asio = boost::asio;

KvTransferConnection::KvTransferConnection(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {
  boost::system::error_code ignored;
  socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
}

void KvTransferConnection::ReadFrame(FrameHandler handler) {
  auto self = shared_from_this();
  asio::async_read(socket_, asio::buffer(header_),
                   [self, handler = std::move(handler)](const boost::system::error_code& ec, size_t) mutable {
                     if (ec) {
                       handler(UnavailableError(fmt::format("KV transfer connection: {}", ec.message())),
                               KvFrameType::kError, {});
                       return;
                     }
                     StatusOr<KvFrameHeader> header = ParseKvFrameHeader(self->header_);
                     if (!header.ok()) {
                       handler(header.status(), KvFrameType::kError, {});
                       return;
                     }
                     self->payload_.resize(header->payload_bytes);
                     const KvFrameType type = header->type;
                     asio::async_read(self->socket_, asio::buffer(self->payload_),
                                      [self, type, handler = std::move(handler)](const boost::system::error_code& e,
                                                                                 size_t) {
                                        if (e) {
                                          handler(UnavailableError(fmt::format("KV transfer connection: {}", e.message())),
                                                  KvFrameType::kError, {});
                                          return;
                                        }
                                        handler(Status::Ok(), type, self->payload_);
                                      });
                   });
}

void KvTransferConnection::Write(std::vector<uint8_t> head, std::vector<uint8_t> payload) {
  if (closed_) return;
  writes_.push_back({std::move(head), std::move(payload)});
  if (writes_.size() == 1) WriteNext();
}

void KvTransferConnection::WriteNext() {
  const Pending& p = writes_.front();
  const std::array<asio::const_buffer, 2> buffers = {asio::buffer(p.head), asio::buffer(p.payload)};
  asio::async_write(socket_, buffers, [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
    if (ec) {
      self->writes_.clear();
      if (self->on_write_error_ && !self->closed_) {
        self->on_write_error_(UnavailableError(fmt::format("KV transfer connection: {}", ec.message())));
      }
      return;
    }
    self->bytes_written_ += n;
    if (self->on_payload_sent_ && !self->writes_.front().payload.empty()) {
      self->on_payload_sent_(std::move(self->writes_.front().payload));
    }
    self->writes_.pop_front();
    if (!self->writes_.empty()) {
      self->WriteNext();
    } else if (self->on_flushed_) {
      std::exchange(self->on_flushed_, nullptr)();
    }
  });
}

void KvTransferConnection::WhenFlushed(std::function<void()> then) {
  if (writes_.empty()) {
    then();
    return;
  }
  on_flushed_ = std::move(then);
}

void KvTransferConnection::Close() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

}  // namespace tf
