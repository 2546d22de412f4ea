// One KV transfer TCP connection on an io_context thread: reads whole
// frames (header checked before the payload is read, so a bad length never
// allocates) and writes queued frames in order, a block's payload from its
// own buffer. Both the prefill side's sessions and the decode side's fills
// use it. Every callback runs on the io thread.
#pragma once

#include <utility>

#include <boost/asio.hpp>

#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "base/status.h"
#include "cluster/kv_transfer_frame.h"

namespace tf {

class KvTransferConnection : public std::enable_shared_from_this<KvTransferConnection> {
 public:
  using FrameHandler = std::function<void(const Status& status, KvFrameType type, std::span<const uint8_t> payload)>;

  explicit KvTransferConnection(boost::asio::ip::tcp::socket socket);

  boost::asio::ip::tcp::socket& socket() { return socket_; }
  // Reads the next frame; `handler` gets Unavailable for a closed or broken
  // connection and InvalidArgument for a malformed header. One read at a time.
  void ReadFrame(FrameHandler handler);
  // Queues a frame: `head` then `payload` (may be empty). `on_error` of the
  // connection runs when a write fails.
  void Write(std::vector<uint8_t> head, std::vector<uint8_t> payload = {});
  void set_on_write_error(std::function<void(const Status&)> on_error) { on_write_error_ = std::move(on_error); }
  // Receives each payload buffer once it has been sent (to recycle it).
  void set_on_payload_sent(std::function<void(std::vector<uint8_t>)> f) { on_payload_sent_ = std::move(f); }
  // Bytes of every frame whose write completed.
  uint64_t bytes_written() const { return bytes_written_; }
  bool writes_pending() const { return !writes_.empty(); }
  // Runs once every queued write has completed (now, when none is queued).
  void WhenFlushed(std::function<void()> then);
  void Close();
  bool closed() const { return closed_; }

 private:
  struct Pending {
    std::vector<uint8_t> head;
    std::vector<uint8_t> payload;
  };
  void WriteNext();

  boost::asio::ip::tcp::socket socket_;
  std::array<uint8_t, kKvFrameHeaderBytes> header_{};
  std::vector<uint8_t> payload_;
  std::deque<Pending> writes_;
  std::function<void(const Status&)> on_write_error_;
  std::function<void()> on_flushed_;
  std::function<void(std::vector<uint8_t>)> on_payload_sent_;
  uint64_t bytes_written_ = 0;
  bool closed_ = false;
};

}  // namespace tf
