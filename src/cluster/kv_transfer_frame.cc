#include "cluster/kv_transfer_frame.h"

#include <openssl/rand.h>
#include <xxhash.h>

#include <cstring>

#include <fmt/format.h>

#include "base/check.h"
#include "base/little_endian.h"
#include "base/sha256.h"

namespace tf {
namespace {

constexpr uint8_t kMagic[4] = {'T', 'F', 'K', 'V'};
// Fixed part of a block frame's payload: index, tokens, hash, checksum.
constexpr size_t kBlockFixedBytes = 4 + 4 + 32 + 8;
// The largest request: its fixed fields, the fingerprint, the tokens, the mac.
constexpr size_t kMaxRequestBytes = 68 + kMaxKvFingerprintBytes + 4 * size_t{kMaxKvTransferTokens} + 64;

class FrameWriter {
 public:
  explicit FrameWriter(KvFrameType type) : bytes_(kKvFrameHeaderBytes, 0) {
    std::memcpy(bytes_.data(), kMagic, 4);
    bytes_[4] = kKvTransferVersion;
    bytes_[5] = static_cast<uint8_t>(type);
  }
  void U8(uint8_t v) { bytes_.push_back(v); }
  void U16(uint16_t v) {
    U8(static_cast<uint8_t>(v));
    U8(static_cast<uint8_t>(v >> 8));
  }
  void U32(uint32_t v) {
    const size_t at = Grow(4);
    StoreLe32(bytes_.data() + at, v);
  }
  void U64(uint64_t v) {
    const size_t at = Grow(8);
    StoreLe64(bytes_.data() + at, v);
  }
  void Bytes(const void* data, size_t n) {
    const size_t at = Grow(n);
    if (n > 0) std::memcpy(bytes_.data() + at, data, n);
  }
  void String16(std::string_view s) {
    TF_CHECK(s.size() <= 0xffff);
    U16(static_cast<uint16_t>(s.size()));
    Bytes(s.data(), s.size());
  }
  // Sets the header's length: `extra` bytes follow outside this buffer.
  std::vector<uint8_t> Finish(size_t extra = 0) {
    StoreLe32(bytes_.data() + 8, static_cast<uint32_t>(bytes_.size() - kKvFrameHeaderBytes + extra));
    return std::move(bytes_);
  }

 private:
  size_t Grow(size_t n) {
    const size_t at = bytes_.size();
    bytes_.resize(at + n);
    return at;
  }
  std::vector<uint8_t> bytes_;
};

class PayloadReader {
 public:
  PayloadReader(std::span<const uint8_t> bytes, const char* frame) : bytes_(bytes), frame_(frame) {}
  Status Need(size_t n, const char* field) {
    if (bytes_.size() - at_ < n) {
      return InvalidArgumentError(fmt::format("KV transfer {} frame: {} needs {} bytes, {} are left", frame_, field, n,
                                              bytes_.size() - at_));
    }
    return Status::Ok();
  }
  Status U16(uint16_t* v, const char* field) {
    TF_RETURN_IF_ERROR(Need(2, field));
    *v = static_cast<uint16_t>(bytes_[at_] | (bytes_[at_ + 1] << 8));
    at_ += 2;
    return Status::Ok();
  }
  Status U32(uint32_t* v, const char* field) {
    TF_RETURN_IF_ERROR(Need(4, field));
    *v = LoadLe32(bytes_.data() + at_);
    at_ += 4;
    return Status::Ok();
  }
  Status U64(uint64_t* v, const char* field) {
    TF_RETURN_IF_ERROR(Need(8, field));
    *v = LoadLe64(bytes_.data() + at_);
    at_ += 8;
    return Status::Ok();
  }
  Status Bytes(void* out, size_t n, const char* field) {
    TF_RETURN_IF_ERROR(Need(n, field));
    std::memcpy(out, bytes_.data() + at_, n);
    at_ += n;
    return Status::Ok();
  }
  Status String16(std::string* out, size_t max_bytes, const char* field) {
    uint16_t n = 0;
    TF_RETURN_IF_ERROR(U16(&n, field));
    if (n > max_bytes) {
      return InvalidArgumentError(fmt::format("KV transfer {} frame: {} of {} bytes exceeds {}", frame_, field, n,
                                              max_bytes));
    }
    TF_RETURN_IF_ERROR(Need(n, field));
    out->assign(reinterpret_cast<const char*>(bytes_.data() + at_), n);
    at_ += n;
    return Status::Ok();
  }
  std::span<const uint8_t> Rest() {
    const auto rest = bytes_.subspan(at_);
    at_ = bytes_.size();
    return rest;
  }
  Status Mac(std::string* out) {
    TF_RETURN_IF_ERROR(String16(out, 64, "mac"));
    if (!out->empty() && out->size() != 64) {
      return InvalidArgumentError(fmt::format("KV transfer {} frame: mac of {} bytes, not 0 or 64", frame_, out->size()));
    }
    for (char c : *out) {
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
        return InvalidArgumentError(fmt::format("KV transfer {} frame: mac is not lowercase hex", frame_));
      }
    }
    return Status::Ok();
  }
  Status End() {
    if (at_ != bytes_.size()) {
      return InvalidArgumentError(
          fmt::format("KV transfer {} frame: {} bytes after the last field", frame_, bytes_.size() - at_));
    }
    return Status::Ok();
  }

 private:
  std::span<const uint8_t> bytes_;
  const char* frame_;
  size_t at_ = 0;
};

size_t MaxPayloadBytes(KvFrameType type) {
  switch (type) {
    case KvFrameType::kHello:
      return 16;
    case KvFrameType::kPrefillRequest:
      return kMaxRequestBytes;
    case KvFrameType::kAccept:
      return 2 + 64;
    case KvFrameType::kBlock:
      return kBlockFixedBytes + kMaxKvBlockPayloadBytes;
    case KvFrameType::kDone:
      return 4;
    case KvFrameType::kAck:
      return 0;
    case KvFrameType::kError:
      return 2 + kMaxKvErrorBytes;
  }
  return 0;
}

std::string HexOf(const uint8_t* bytes, size_t n) {
  std::string out;
  out.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) out += fmt::format("{:02x}", bytes[i]);
  return out;
}

void WriteRequestBody(FrameWriter* w, const KvPrefillRequest& r, bool with_mac) {
  w->U64(r.request_id);
  w->String16(r.kv_fingerprint);
  w->U32(r.kv_type);
  w->U32(r.block_size);
  w->U64(r.block_bytes);
  w->U32(r.first_block);
  w->U32(r.deadline_ms);
  w->U32(static_cast<uint32_t>(r.tokens.size()));
  for (int32_t t : r.tokens) w->U32(static_cast<uint32_t>(t));
  w->U32(r.flags);
  w->Bytes(r.nonce.data(), r.nonce.size());
  w->String16(with_mac ? r.mac : std::string());
}

}  // namespace

const char* KvFrameTypeName(KvFrameType type) {
  switch (type) {
    case KvFrameType::kHello:
      return "hello";
    case KvFrameType::kPrefillRequest:
      return "prefill-request";
    case KvFrameType::kAccept:
      return "accept";
    case KvFrameType::kBlock:
      return "block";
    case KvFrameType::kDone:
      return "done";
    case KvFrameType::kAck:
      return "ack";
    case KvFrameType::kError:
      return "error";
  }
  return "unknown";
}

StatusOr<KvFrameHeader> ParseKvFrameHeader(std::span<const uint8_t> header) {
  if (header.size() != kKvFrameHeaderBytes) {
    return InvalidArgumentError(fmt::format("KV transfer frame header of {} bytes, not {}", header.size(),
                                            kKvFrameHeaderBytes));
  }
  if (std::memcmp(header.data(), kMagic, 4) != 0) return InvalidArgumentError("KV transfer frame: bad magic");
  if (header[4] != kKvTransferVersion) {
    return InvalidArgumentError(
        fmt::format("KV transfer frame: version {}, this build speaks {}", header[4], kKvTransferVersion));
  }
  const uint8_t type = header[5];
  if (type < static_cast<uint8_t>(KvFrameType::kHello) || type > static_cast<uint8_t>(KvFrameType::kError)) {
    return InvalidArgumentError(fmt::format("KV transfer frame: unknown type {}", type));
  }
  if (header[6] != 0 || header[7] != 0) return InvalidArgumentError("KV transfer frame: reserved bits set");
  KvFrameHeader out;
  out.type = static_cast<KvFrameType>(type);
  out.payload_bytes = LoadLe32(header.data() + 8);
  if (out.payload_bytes > MaxPayloadBytes(out.type)) {
    return InvalidArgumentError(fmt::format("KV transfer {} frame: payload of {} bytes exceeds {}",
                                            KvFrameTypeName(out.type), out.payload_bytes,
                                            MaxPayloadBytes(out.type)));
  }
  return out;
}

StatusOr<KvHello> ParseKvHello(std::span<const uint8_t> payload) {
  PayloadReader r(payload, "hello");
  KvHello hello;
  TF_RETURN_IF_ERROR(r.Bytes(hello.nonce.data(), hello.nonce.size(), "nonce"));
  TF_RETURN_IF_ERROR(r.End());
  return hello;
}

StatusOr<KvPrefillRequest> ParseKvPrefillRequest(std::span<const uint8_t> payload) {
  PayloadReader r(payload, "prefill-request");
  KvPrefillRequest req;
  TF_RETURN_IF_ERROR(r.U64(&req.request_id, "request_id"));
  TF_RETURN_IF_ERROR(r.String16(&req.kv_fingerprint, kMaxKvFingerprintBytes, "kv_fingerprint"));
  TF_RETURN_IF_ERROR(r.U32(&req.kv_type, "kv_type"));
  TF_RETURN_IF_ERROR(r.U32(&req.block_size, "block_size"));
  TF_RETURN_IF_ERROR(r.U64(&req.block_bytes, "block_bytes"));
  TF_RETURN_IF_ERROR(r.U32(&req.first_block, "first_block"));
  TF_RETURN_IF_ERROR(r.U32(&req.deadline_ms, "deadline_ms"));
  uint32_t num_tokens = 0;
  TF_RETURN_IF_ERROR(r.U32(&num_tokens, "num_tokens"));
  if (num_tokens == 0 || num_tokens > kMaxKvTransferTokens) {
    return InvalidArgumentError(
        fmt::format("KV transfer prefill-request frame: num_tokens {} not in [1, {}]", num_tokens, kMaxKvTransferTokens));
  }
  TF_RETURN_IF_ERROR(r.Need(4 * size_t{num_tokens}, "tokens"));
  req.tokens.resize(num_tokens);
  for (uint32_t i = 0; i < num_tokens; ++i) {
    uint32_t t = 0;
    TF_RETURN_IF_ERROR(r.U32(&t, "tokens"));
    if (t > 0x7fffffffu) return InvalidArgumentError(fmt::format("KV transfer prefill-request frame: token {} is negative", i));
    req.tokens[i] = static_cast<int32_t>(t);
  }
  TF_RETURN_IF_ERROR(r.U32(&req.flags, "flags"));
  if ((req.flags & ~kKvViaStore) != 0) {
    return InvalidArgumentError(fmt::format("KV transfer prefill-request frame: unknown flags {:#x}", req.flags));
  }
  TF_RETURN_IF_ERROR(r.Bytes(req.nonce.data(), req.nonce.size(), "nonce"));
  TF_RETURN_IF_ERROR(r.Mac(&req.mac));
  TF_RETURN_IF_ERROR(r.End());
  if (req.block_size == 0 || req.block_size > 1024) {
    return InvalidArgumentError(fmt::format("KV transfer prefill-request frame: block_size {} not in [1, 1024]", req.block_size));
  }
  if (req.block_bytes == 0 || req.block_bytes > kMaxKvBlockPayloadBytes) {
    return InvalidArgumentError(fmt::format("KV transfer prefill-request frame: block_bytes {} not in [1, {}]",
                                            req.block_bytes, kMaxKvBlockPayloadBytes));
  }
  const uint64_t num_blocks = (uint64_t{num_tokens} + req.block_size - 1) / req.block_size;
  if (req.first_block >= num_blocks) {
    return InvalidArgumentError(fmt::format("KV transfer prefill-request frame: first_block {} leaves nothing of {} blocks",
                                            req.first_block, num_blocks));
  }
  return req;
}

StatusOr<KvAccept> ParseKvAccept(std::span<const uint8_t> payload) {
  PayloadReader r(payload, "accept");
  KvAccept accept;
  TF_RETURN_IF_ERROR(r.Mac(&accept.mac));
  TF_RETURN_IF_ERROR(r.End());
  return accept;
}

StatusOr<KvBlockFrame> ParseKvBlockFrame(std::span<const uint8_t> payload) {
  PayloadReader r(payload, "block");
  KvBlockFrame block;
  TF_RETURN_IF_ERROR(r.U32(&block.index, "index"));
  TF_RETURN_IF_ERROR(r.U32(&block.num_tokens, "num_tokens"));
  TF_RETURN_IF_ERROR(r.Bytes(block.hash.bytes.data(), block.hash.bytes.size(), "hash"));
  TF_RETURN_IF_ERROR(r.U64(&block.checksum, "checksum"));
  block.payload = r.Rest();
  if (block.num_tokens == 0 || block.num_tokens > 1024) {
    return InvalidArgumentError(fmt::format("KV transfer block frame: num_tokens {} not in [1, 1024]", block.num_tokens));
  }
  return block;
}

StatusOr<KvDone> ParseKvDone(std::span<const uint8_t> payload) {
  PayloadReader r(payload, "done");
  KvDone done;
  TF_RETURN_IF_ERROR(r.U32(&done.num_blocks, "num_blocks"));
  TF_RETURN_IF_ERROR(r.End());
  return done;
}

StatusOr<KvErrorFrame> ParseKvError(std::span<const uint8_t> payload) {
  PayloadReader r(payload, "error");
  KvErrorFrame error;
  TF_RETURN_IF_ERROR(r.String16(&error.message, kMaxKvErrorBytes, "message"));
  TF_RETURN_IF_ERROR(r.End());
  // Shown in logs: keep printable ASCII only.
  for (char& c : error.message) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return error;
}

std::vector<uint8_t> EncodeKvHello(const KvHello& hello) {
  FrameWriter w(KvFrameType::kHello);
  w.Bytes(hello.nonce.data(), hello.nonce.size());
  return w.Finish();
}

std::vector<uint8_t> EncodeKvPrefillRequest(const KvPrefillRequest& request) {
  FrameWriter w(KvFrameType::kPrefillRequest);
  WriteRequestBody(&w, request, /*with_mac=*/true);
  return w.Finish();
}

std::vector<uint8_t> EncodeKvAccept(const KvAccept& accept) {
  FrameWriter w(KvFrameType::kAccept);
  w.String16(accept.mac);
  return w.Finish();
}

std::vector<uint8_t> EncodeKvBlockFrameHead(const KvBlockFrame& block) {
  FrameWriter w(KvFrameType::kBlock);
  w.U32(block.index);
  w.U32(block.num_tokens);
  w.Bytes(block.hash.bytes.data(), block.hash.bytes.size());
  w.U64(block.checksum);
  return w.Finish(block.payload.size());
}

std::vector<uint8_t> EncodeKvDone(const KvDone& done) {
  FrameWriter w(KvFrameType::kDone);
  w.U32(done.num_blocks);
  return w.Finish();
}

std::vector<uint8_t> EncodeKvAck() { return FrameWriter(KvFrameType::kAck).Finish(); }

std::vector<uint8_t> EncodeKvError(std::string_view message) {
  FrameWriter w(KvFrameType::kError);
  w.String16(message.substr(0, kMaxKvErrorBytes));
  return w.Finish();
}

uint64_t KvPayloadChecksum(std::span<const uint8_t> payload) { return XXH3_64bits(payload.data(), payload.size()); }

std::string KvRequestMacMessage(const KvNonce& server_nonce, const KvPrefillRequest& request) {
  FrameWriter w(KvFrameType::kPrefillRequest);
  WriteRequestBody(&w, request, /*with_mac=*/false);
  const std::vector<uint8_t> body = w.Finish();
  const Sha256Digest digest = Sha256(body.data(), body.size());
  return fmt::format("tokenfab-kv/1 request|{}|{}|{}", HexOf(server_nonce.data(), server_nonce.size()),
                     HexOf(request.nonce.data(), request.nonce.size()), HexOf(digest.data(), digest.size()));
}

std::string KvAcceptMacMessage(const KvNonce& server_nonce, const KvPrefillRequest& request) {
  return fmt::format("tokenfab-kv/1 accept|{}|{}|{}", HexOf(server_nonce.data(), server_nonce.size()),
                     HexOf(request.nonce.data(), request.nonce.size()), request.request_id);
}

KvNonce RandomKvNonce() {
  KvNonce nonce{};
  TF_CHECK(RAND_bytes(nonce.data(), static_cast<int>(nonce.size())) == 1) << "no random bytes from OpenSSL";
  return nonce;
}

}  // namespace tf
