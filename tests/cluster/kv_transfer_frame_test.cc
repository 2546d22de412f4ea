// The KV transfer frames: every frame round-trips, and hostile bytes are
// errors naming what is wrong, never a crash or a huge allocation.
#include "cluster/kv_transfer_frame.h"

#include <gtest/gtest.h>

#include "cluster/cluster_key.h"

namespace tf {
namespace {

std::span<const uint8_t> Payload(const std::vector<uint8_t>& frame) {
  return std::span<const uint8_t>(frame).subspan(kKvFrameHeaderBytes);
}

KvFrameHeader Header(const std::vector<uint8_t>& frame) {
  StatusOr<KvFrameHeader> h = ParseKvFrameHeader(std::span<const uint8_t>(frame).first(kKvFrameHeaderBytes));
  EXPECT_TRUE(h.ok()) << h.status().message();
  return h.ok() ? *h : KvFrameHeader{};
}

KvPrefillRequest SampleRequest() {
  KvPrefillRequest r;
  r.request_id = 77;
  r.kv_fingerprint = "model|kv=f32|block=16";
  r.kv_type = 0;
  r.block_size = 16;
  r.block_bytes = 4096;
  r.first_block = 1;
  r.deadline_ms = 5000;
  for (int i = 0; i < 40; ++i) r.tokens.push_back(i * 3);
  r.nonce = RandomKvNonce();
  return r;
}

TEST(KvTransferFrame, EveryFrameRoundTrips) {
  const KvHello hello{RandomKvNonce()};
  const std::vector<uint8_t> h = EncodeKvHello(hello);
  EXPECT_EQ(Header(h).type, KvFrameType::kHello);
  EXPECT_EQ(ParseKvHello(Payload(h))->nonce, hello.nonce);

  KvPrefillRequest req = SampleRequest();
  req.mac = std::string(64, 'a');
  const std::vector<uint8_t> rf = EncodeKvPrefillRequest(req);
  EXPECT_EQ(Header(rf).payload_bytes, rf.size() - kKvFrameHeaderBytes);
  StatusOr<KvPrefillRequest> back = ParseKvPrefillRequest(Payload(rf));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->request_id, 77u);
  EXPECT_EQ(back->kv_fingerprint, req.kv_fingerprint);
  EXPECT_EQ(back->tokens, req.tokens);
  EXPECT_EQ(back->first_block, 1u);
  EXPECT_EQ(back->mac, req.mac);
  EXPECT_EQ(back->nonce, req.nonce);

  std::vector<uint8_t> payload(300, 9);
  KvBlockFrame block;
  block.index = 3;
  block.num_tokens = 7;
  block.hash.bytes[0] = 1;
  block.checksum = KvPayloadChecksum(payload);
  block.payload = payload;
  std::vector<uint8_t> bf = EncodeKvBlockFrameHead(block);
  EXPECT_EQ(Header(bf).payload_bytes, bf.size() - kKvFrameHeaderBytes + payload.size());
  bf.insert(bf.end(), payload.begin(), payload.end());
  StatusOr<KvBlockFrame> b = ParseKvBlockFrame(Payload(bf));
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(b->index, 3u);
  EXPECT_EQ(b->num_tokens, 7u);
  EXPECT_EQ(b->hash, block.hash);
  EXPECT_EQ(KvPayloadChecksum(b->payload), b->checksum);

  EXPECT_EQ(ParseKvDone(Payload(EncodeKvDone({5})))->num_blocks, 5u);
  EXPECT_EQ(Header(EncodeKvAck()).payload_bytes, 0u);
  EXPECT_EQ(ParseKvError(Payload(EncodeKvError("bad\x01thing")))->message, "bad?thing");
  EXPECT_EQ(ParseKvAccept(Payload(EncodeKvAccept({std::string(64, 'f')})))->mac, std::string(64, 'f'));
}

TEST(KvTransferFrame, MacsBindBothNoncesAndTheRequest) {
  const ClusterKey key = *ClusterKey::FromSecret("a-cluster-key-of-some-length");
  const KvNonce server = RandomKvNonce();
  KvPrefillRequest req = SampleRequest();
  req.mac = key.Sign(KvRequestMacMessage(server, req));
  EXPECT_TRUE(key.Verify(KvRequestMacMessage(server, req), req.mac));
  EXPECT_FALSE(key.Verify(KvRequestMacMessage(RandomKvNonce(), req), req.mac));  // another conversation
  KvPrefillRequest changed = req;
  changed.tokens[5] += 1;
  EXPECT_FALSE(key.Verify(KvRequestMacMessage(server, changed), req.mac));
  const std::string accept = key.Sign(KvAcceptMacMessage(server, req));
  EXPECT_NE(accept, req.mac);
  EXPECT_TRUE(key.Verify(KvAcceptMacMessage(server, req), accept));
}

TEST(KvTransferFrame, HostileBytesAreErrors) {
  std::vector<uint8_t> h = EncodeKvHello({});
  auto header = [&](std::vector<uint8_t> f) { return ParseKvFrameHeader(std::span<const uint8_t>(f).first(12)); };
  std::vector<uint8_t> bad = h;
  bad[0] = 'X';
  EXPECT_FALSE(header(bad).ok());
  bad = h;
  bad[4] = 2;
  EXPECT_NE(header(bad).status().message().find("version 2"), std::string::npos);
  bad = h;
  bad[5] = 99;
  EXPECT_FALSE(header(bad).ok());
  bad = h;
  bad[6] = 1;
  EXPECT_FALSE(header(bad).ok());
  bad = h;
  bad[8] = 17;  // a 17-byte hello
  EXPECT_FALSE(header(bad).ok());
  std::vector<uint8_t> block_head = EncodeKvBlockFrameHead({});
  block_head[8] = block_head[9] = block_head[10] = block_head[11] = 0xff;  // 4 GiB
  EXPECT_NE(header(block_head).status().message().find("exceeds"), std::string::npos);
  EXPECT_FALSE(ParseKvFrameHeader(std::span<const uint8_t>(h).first(5)).ok());

  // Requests: truncated anywhere, a token count beyond what follows or the
  // bound, a negative token, a first block past the end, a bad mac.
  const std::vector<uint8_t> rf = EncodeKvPrefillRequest(SampleRequest());
  for (size_t cut = 0; cut + 1 < rf.size() - kKvFrameHeaderBytes; ++cut) {
    EXPECT_FALSE(ParseKvPrefillRequest(Payload(rf).first(cut)).ok()) << cut;
  }
  KvPrefillRequest r = SampleRequest();
  r.first_block = 3;  // 40 tokens are 3 blocks: 0..2
  EXPECT_NE(ParseKvPrefillRequest(Payload(EncodeKvPrefillRequest(r))).status().message().find("first_block"),
            std::string::npos);
  r = SampleRequest();
  r.tokens[0] = -1;
  EXPECT_NE(ParseKvPrefillRequest(Payload(EncodeKvPrefillRequest(r))).status().message().find("negative"),
            std::string::npos);
  r = SampleRequest();
  r.block_size = 0;
  EXPECT_FALSE(ParseKvPrefillRequest(Payload(EncodeKvPrefillRequest(r))).ok());
  r = SampleRequest();
  r.block_bytes = uint64_t{1} << 40;
  EXPECT_FALSE(ParseKvPrefillRequest(Payload(EncodeKvPrefillRequest(r))).ok());
  r = SampleRequest();
  r.mac = std::string(64, 'Z');
  EXPECT_NE(ParseKvPrefillRequest(Payload(EncodeKvPrefillRequest(r))).status().message().find("hex"), std::string::npos);
  r.mac = "abc";
  EXPECT_FALSE(ParseKvPrefillRequest(Payload(EncodeKvPrefillRequest(r))).ok());
  std::vector<uint8_t> count = EncodeKvPrefillRequest(SampleRequest());
  // num_tokens sits after id (8), fingerprint (2 + 21), type, size (8), bytes (8), first, deadline (8).
  const size_t at = kKvFrameHeaderBytes + 8 + 2 + 21 + 8 + 8 + 8;
  count[at] = count[at + 1] = count[at + 2] = 0xff;
  count[at + 3] = 0x7f;
  EXPECT_NE(ParseKvPrefillRequest(Payload(count)).status().message().find("num_tokens"), std::string::npos);

  std::vector<uint8_t> trailing = EncodeKvDone({1});
  trailing.push_back(0);
  EXPECT_NE(ParseKvDone(Payload(trailing)).status().message().find("after the last field"), std::string::npos);
  EXPECT_FALSE(ParseKvBlockFrame(Payload(EncodeKvBlockFrameHead({}))).ok());  // no payload, zero tokens
  std::vector<uint8_t> long_error = EncodeKvError(std::string(2000, 'e'));
  EXPECT_TRUE(ParseKvError(Payload(long_error)).ok());  // capped when written
}

}  // namespace
}  // namespace tf
