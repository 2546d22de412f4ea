// The cluster's messages and decisions without processes: registry
// entries and their HMAC, the cluster key's call authentication, the
// router <-> worker protocol, KV events on the wire, the KV index's
// sequence handling, and the route policy.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cluster/cluster_key.h"
#include "cluster/etcd_client.h"
#include "cluster/http_call.h"
#include "cluster/kv_event_codec.h"
#include "cluster/kv_index.h"
#include "cluster/route_policy.h"
#include "cluster/worker_entry.h"
#include "cluster/worker_protocol.h"

namespace tf {
namespace {

using Json = nlohmann::json;

WorkerEntry SampleEntry() {
  WorkerEntry e;
  e.address = "127.0.0.1:8101";
  e.model = "tiny";
  e.fingerprint = "xxh3-128:abc|overrides:";
  e.kv_fingerprint = "xxh3-128:abc|overrides:|kv=f32|block=16";
  e.kv_type = "f32";
  e.block_size = 16;
  e.kv_capacity_blocks = 4096;
  e.ctx_size = 1024;
  e.n_vocab = 32000;
  e.kv_events = "127.0.0.1:9101";
  return e;
}

TEST(WorkerEntryTest, RoundTripsAndNamesItsKey) {
  const WorkerEntry e = SampleEntry();
  EXPECT_EQ(e.Key(), "/tokenfab/workers/tiny/both/127.0.0.1:8101");
  StatusOr<WorkerEntry> back = ParseWorkerEntry(e.ToJson(nullptr), nullptr);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->address, e.address);
  EXPECT_EQ(back->kv_fingerprint, e.kv_fingerprint);
  EXPECT_EQ(back->block_size, 16);
  EXPECT_EQ(back->kv_events, e.kv_events);
}

TEST(WorkerEntryTest, RefusesMalformedEntriesNamingTheField) {
  Json j = Json::parse(SampleEntry().ToJson(nullptr));
  auto refused = [](const Json& entry, const std::string& field) {
    const Status s = ParseWorkerEntry(entry.dump(), nullptr).status();
    EXPECT_FALSE(s.ok()) << entry.dump();
    EXPECT_NE(s.message().find(field), std::string::npos) << s.message();
  };
  Json bad = j;
  bad["block_size"] = 0;
  refused(bad, "block_size");
  bad = j;
  bad["address"] = "no-port";
  refused(bad, "address");
  bad = j;
  bad["role"] = "overlord";
  refused(bad, "role");
  bad = j;
  bad.erase("model");
  refused(bad, "model");
  bad = j;
  bad["n_vocab"] = "32000";
  refused(bad, "n_vocab");
  bad = j;
  bad["kv_events"] = "127.0.0.1:0";
  refused(bad, "kv_events");
  EXPECT_FALSE(ParseWorkerEntry("[1,2]", nullptr).ok());
  EXPECT_FALSE(ParseWorkerEntry(std::string(20000, ' '), nullptr).ok());
}

TEST(WorkerEntryTest, WithAKeyOnlySignedEntriesPass) {
  const ClusterKey key = *ClusterKey::FromSecret("0123456789abcdef-secret\n");
  const ClusterKey other = *ClusterKey::FromSecret("another-secret-of-16+");
  const WorkerEntry e = SampleEntry();
  EXPECT_TRUE(ParseWorkerEntry(e.ToJson(&key), &key).ok());
  EXPECT_FALSE(ParseWorkerEntry(e.ToJson(nullptr), &key).ok());   // unsigned
  EXPECT_FALSE(ParseWorkerEntry(e.ToJson(&other), &key).ok());    // another cluster's
  Json tampered = Json::parse(e.ToJson(&key));
  tampered["address"] = "10.0.0.66:8101";                          // redirected traffic
  const Status s = ParseWorkerEntry(tampered.dump(), &key).status();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("hmac"), std::string::npos);
}

TEST(ClusterKeyTest, SignedCallsPassOnlyUnchangedAndFresh) {
  EXPECT_FALSE(ClusterKey::FromSecret("short").ok());
  const ClusterKey key = *ClusterKey::FromSecret("0123456789abcdef-secret");
  const int64_t now = 1'800'000'000;
  const std::string header = key.AuthHeaderValue("POST", "/internal/v1/generate", "{\"a\":1}", now);
  EXPECT_TRUE(key.CheckAuthHeaderValue(header, "POST", "/internal/v1/generate", "{\"a\":1}", now + 5).ok());
  EXPECT_FALSE(key.CheckAuthHeaderValue(header, "POST", "/internal/v1/generate", "{\"a\":2}", now).ok());  // body
  EXPECT_FALSE(key.CheckAuthHeaderValue(header, "GET", "/internal/v1/generate", "{\"a\":1}", now).ok());   // method
  EXPECT_FALSE(key.CheckAuthHeaderValue(header, "POST", "/internal/v1/kv_blocks", "{\"a\":1}", now).ok()); // target
  EXPECT_FALSE(key.CheckAuthHeaderValue(header, "POST", "/internal/v1/generate", "{\"a\":1}", now + 61).ok());  // stale
  EXPECT_FALSE(key.CheckAuthHeaderValue("garbage", "POST", "/internal/v1/generate", "{\"a\":1}", now).ok());
  EXPECT_FALSE(key.CheckAuthHeaderValue("x:y", "POST", "/internal/v1/generate", "{\"a\":1}", now).ok());
}

TEST(WorkerProtocolTest, RequestsRoundTripWithTheirContinuationState) {
  GenerationRequest g;
  g.prompt = {1, 2, 3};
  g.continued = {7, 8};
  g.num_draws_done = 2;
  g.max_tokens = 40;
  g.stop = {"\n\n", "END"};
  g.top_logprobs = 2;
  g.json_object = true;
  g.sampling.temperature = 0.7f;
  g.sampling.top_k = 40;
  g.sampling.seed = 12345678901234ull;
  g.sampling.logit_bias = {{5, -100.0f}};
  StatusOr<WorkerGenerateRequest> back = ParseWorkerGenerateRequest(WorkerGenerateRequestToJson("tiny", g), 1 << 20);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->model, "tiny");
  EXPECT_EQ(back->generation.prompt, g.prompt);
  EXPECT_EQ(back->generation.continued, g.continued);
  EXPECT_EQ(back->generation.num_draws_done, 2u);
  EXPECT_EQ(back->generation.max_tokens, 40);
  EXPECT_EQ(back->generation.stop, g.stop);
  EXPECT_EQ(back->generation.top_logprobs, 2);
  EXPECT_TRUE(back->generation.json_object);
  EXPECT_FLOAT_EQ(back->generation.sampling.temperature, 0.7f);
  EXPECT_EQ(back->generation.sampling.seed, g.sampling.seed);
  EXPECT_EQ(back->generation.sampling.logit_bias, g.sampling.logit_bias);
}

TEST(WorkerProtocolTest, HostileRequestsAreRefusedNamingTheField) {
  auto param = [](const std::string& body) { return ParseWorkerGenerateRequest(body, 100).status().param(); };
  EXPECT_EQ(param(R"({"model":"m","prompt":[1,-2]})"), "prompt");
  EXPECT_EQ(param(R"({"model":"m","prompt":[1,2],"continued":"x"})"), "continued");
  EXPECT_EQ(param(R"({"model":"m","prompt":[1],"num_draws_done":-1})"), "num_draws_done");
  EXPECT_EQ(param(R"({"model":"m","prompt":[1],"stop":[1]})"), "stop");
  EXPECT_EQ(param(R"({"model":"m","prompt":[1],"sampling":{"logit_bias":[[1]]}})"), "logit_bias");
  Json big = {{"model", "m"}, {"prompt", std::vector<int>(101, 1)}};
  EXPECT_EQ(param(big.dump()), "prompt");
  EXPECT_FALSE(ParseWorkerGenerateRequest("not json", 100).ok());
}

TEST(WorkerProtocolTest, DeltasRoundTripAndMalformedOnesAreRefused) {
  StreamDelta d;
  d.text = "hé";
  d.num_tokens = 1;
  d.token = 42;
  d.num_draws = 9;
  d.logprobs.push_back({42, "", -0.5f, {{42, -0.5f}, {7, -1.5f}}});
  StatusOr<StreamDelta> back = ParseStreamDelta(StreamDeltaToJson(d));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->text, "hé");
  EXPECT_EQ(back->token, 42);
  EXPECT_EQ(back->num_draws, 9u);
  ASSERT_EQ(back->logprobs.size(), 1u);
  EXPECT_EQ(back->logprobs[0].top.size(), 2u);
  StreamDelta last;
  last.finished = true;
  last.finish_reason = FinishReason::kLength;
  last.usage = {5, 10, 3};
  back = ParseStreamDelta(StreamDeltaToJson(last));
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->finished);
  EXPECT_EQ(back->finish_reason, FinishReason::kLength);
  EXPECT_EQ(back->usage.completion_tokens, 10);
  EXPECT_EQ(back->usage.cached_prompt_tokens, 3);
  for (const char* bad : {R"({"text":"a","n":1,"draws":0})",                                   // one token, no id
                          R"({"text":"a","n":0,"draws":-1})", R"({"text":1,"n":0,"draws":0})",
                          R"({"text":"","n":0,"draws":0,"finished":true,"finish_reason":"exploded","usage":{}})",
                          R"({"text":"","n":0,"draws":0,"finished":true,"finish_reason":"stop"})", "[]"}) {
    EXPECT_FALSE(ParseStreamDelta(bad).ok()) << bad;
  }
}

BlockHash HashOf(uint8_t b) {
  BlockHash h;
  h.bytes.fill(b);
  return h;
}

TEST(KvEventCodecTest, BatchesRoundTripInVllmShape) {
  std::vector<KvEvent> events = {{KvEvent::Kind::kStored, {HashOf(1), HashOf(2)}},
                                 {KvEvent::Kind::kRemoved, {HashOf(3)}},
                                 {KvEvent::Kind::kAllCleared, {}}};
  const std::string payload = EncodeKvEventPayload(1234.5, events, 16);
  StatusOr<KvEventBatch> batch = DecodeKvEventMessage(EncodeKvEventSeq(0x0102030405060708ull), payload);
  ASSERT_TRUE(batch.ok()) << batch.status().message();
  EXPECT_EQ(batch->seq, 0x0102030405060708ull);
  EXPECT_DOUBLE_EQ(batch->timestamp_s, 1234.5);
  ASSERT_EQ(batch->events.size(), 3u);
  EXPECT_EQ(batch->events[0].kind, KvEvent::Kind::kStored);
  EXPECT_EQ(batch->events[0].hashes, (std::vector<BlockHash>{HashOf(1), HashOf(2)}));
  EXPECT_EQ(batch->events[1].kind, KvEvent::Kind::kRemoved);
  EXPECT_EQ(batch->events[2].kind, KvEvent::Kind::kAllCleared);
}

TEST(KvEventCodecTest, HostileMessagesAreErrors) {
  const std::string seq = EncodeKvEventSeq(1);
  EXPECT_FALSE(DecodeKvEventMessage("short", EncodeKvEventPayload(0, {}, 16)).ok());
  EXPECT_FALSE(DecodeKvEventMessage(seq, "").ok());
  EXPECT_FALSE(DecodeKvEventMessage(seq, "\xdd\xff\xff\xff\xff").ok());  // array32 of 4 G elements, no bytes
  EXPECT_FALSE(DecodeKvEventMessage(seq, "\x92\xcb").ok());               // truncated float
  // ["BlockStored", [bin 31]]: a hash of the wrong size.
  const std::string wrong_hash = std::string("\x92\xcb") + std::string(8, '\0') + "\x91\x92\xab" + "BlockStored" +
                                 "\x91\xc4\x1f" + std::string(31, 'x');
  EXPECT_FALSE(DecodeKvEventMessage(seq, wrong_hash).ok());
  const std::string unknown = std::string("\x92\xcb") + std::string(8, '\0') + "\x91\x91\xa4" + "Boom";
  EXPECT_FALSE(DecodeKvEventMessage(seq, unknown).ok());
}

KvEventBatch Batch(uint64_t seq, KvEvent::Kind kind, std::vector<BlockHash> hashes) {
  KvEventBatch b;
  b.seq = seq;
  b.events.push_back({kind, std::move(hashes)});
  return b;
}

TEST(KvIndexTest, FollowsEventsAndResyncsOnGapsAndRestarts) {
  KvIndex index;
  const std::vector<BlockHash> chain = {HashOf(1), HashOf(2), HashOf(3)};
  // Unknown at first: the first batch asks for a snapshot and waits.
  EXPECT_TRUE(index.OnBatch("w", Batch(5, KvEvent::Kind::kStored, {HashOf(3)})));
  EXPECT_FALSE(index.OnBatch("w", Batch(6, KvEvent::Kind::kStored, {HashOf(9)})));  // one fetch at a time
  EXPECT_EQ(index.Overlap("w", chain), 0);
  // The snapshot reflects seq 5; batch 6 then applies, batch 5 is in it.
  EXPECT_FALSE(index.OnSnapshot("w", {5, {HashOf(1), HashOf(2), HashOf(3)}}));
  EXPECT_TRUE(index.synced("w"));
  EXPECT_EQ(index.Overlap("w", chain), 3);
  EXPECT_EQ(index.num_blocks("w"), 4);
  EXPECT_FALSE(index.OnBatch("w", Batch(7, KvEvent::Kind::kRemoved, {HashOf(2)})));
  EXPECT_EQ(index.Overlap("w", chain), 1);  // a leading run only
  // A gap: what is known is stale, a snapshot is asked for.
  EXPECT_TRUE(index.OnBatch("w", Batch(9, KvEvent::Kind::kStored, {HashOf(2)})));
  EXPECT_FALSE(index.synced("w"));
  EXPECT_EQ(index.Overlap("w", chain), 0);
  // A snapshot older than the buffered gap asks again.
  EXPECT_TRUE(index.OnSnapshot("w", {7, {HashOf(1)}}));
  EXPECT_FALSE(index.OnSnapshot("w", {9, {HashOf(1), HashOf(2)}}));
  EXPECT_EQ(index.Overlap("w", chain), 2);
  // A restarted publisher counts from 1 again.
  EXPECT_TRUE(index.OnBatch("w", Batch(1, KvEvent::Kind::kStored, {HashOf(1)})));
  EXPECT_FALSE(index.synced("w"));
  index.OnSnapshotFailed("w");
  EXPECT_TRUE(index.ClaimSnapshot("w"));
  EXPECT_FALSE(index.ClaimSnapshot("w"));
}

TEST(KvIndexTest, SnapshotsAreParsedStrictly) {
  const std::string hash(64, 'a');
  StatusOr<KvSnapshot> s = ParseKvSnapshot(Json{{"seq", 3}, {"hashes", {hash}}}.dump());
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->seq, 3u);
  EXPECT_EQ(s->hashes[0], HashOf(0xaa));
  EXPECT_FALSE(ParseKvSnapshot(Json{{"seq", -1}, {"hashes", Json::array()}}.dump()).ok());
  EXPECT_FALSE(ParseKvSnapshot(Json{{"seq", 1}, {"hashes", {std::string(63, 'a')}}}.dump()).ok());
  EXPECT_FALSE(ParseKvSnapshot(Json{{"seq", 1}, {"hashes", {std::string(64, 'g')}}}.dump()).ok());
  EXPECT_FALSE(ParseKvSnapshot("{").ok());
}

TEST(RoutePolicyTest, KvCostPrefersCachedPrefixesUntilLoadOutweighsThem) {
  uint64_t rr = 0;
  // 10 prompt blocks; worker 1 holds 8 of them.
  std::vector<RouteCandidate> c = {{0, 0, 0}, {8, 0, 0}, {0, 0, 0}};
  EXPECT_EQ(ChooseWorker(RouterMode::kKv, 1.0, 10, c, &rr), 1u);
  // Worker 1 is busy with 20 blocks of running requests: 2 + 20 > 10.
  c[1].active_blocks = 20;
  c[1].active_requests = 2;
  EXPECT_EQ(ChooseWorker(RouterMode::kKv, 1.0, 10, c, &rr), 0u);
  // Equal cost: fewest active requests wins, then the emptiest cache.
  c = {{0, 5, 3}, {0, 5, 1}};
  EXPECT_EQ(ChooseWorker(RouterMode::kKv, 1.0, 10, c, &rr), 1u);
  c = {{0, 0, 0, 0.9}, {0, 0, 0, 0.2}, {0, 0, 0, 0.5}};
  EXPECT_EQ(ChooseWorker(RouterMode::kKv, 1.0, 10, c, &rr), 1u);
  c = {{0, 0, 3}, {9, 100, 1}, {0, 0, 2}};
  EXPECT_EQ(ChooseWorker(RouterMode::kLeastLoaded, 1.0, 10, c, &rr), 1u);
  EXPECT_EQ(ChooseWorker(RouterMode::kRoundRobin, 1.0, 10, c, &rr), 0u);
  EXPECT_EQ(ChooseWorker(RouterMode::kRoundRobin, 1.0, 10, c, &rr), 1u);
  EXPECT_EQ(ChooseWorker(RouterMode::kRoundRobin, 1.0, 10, c, &rr), 2u);
  EXPECT_EQ(ParseRouterMode("kv").value(), RouterMode::kKv);
  EXPECT_FALSE(ParseRouterMode("random").ok());
}

TEST(ClusterParsingTest, AddressesUrlsAndBase64) {
  EXPECT_EQ(ParseHostPort("10.0.0.1:80").value(), std::make_pair(std::string("10.0.0.1"), uint16_t{80}));
  EXPECT_EQ(ParseHostPort("[::1]:2379").value().first, "::1");
  for (const char* bad : {"host", "host:", "host:0", "host:70000", ":80", "[::1]2379", "h:8o"}) {
    EXPECT_FALSE(ParseHostPort(bad).ok()) << bad;
  }
  EXPECT_EQ(ParseHttpUrl("http://127.0.0.1:2379").value().second, 2379);
  EXPECT_EQ(ParseHttpUrl("http://etcd/").value().second, 80);
  EXPECT_FALSE(ParseHttpUrl("https://etcd:2379").ok());
  for (const std::string& s : std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)}) {
    EXPECT_EQ(Base64Decode(Base64Encode(s)).value(), s);
  }
  EXPECT_FALSE(Base64Decode("abc").ok());
  EXPECT_FALSE(Base64Decode("a*c=").ok());
  EXPECT_EQ(PrefixRangeEnd("/a/"), "/a0");
  EXPECT_EQ(PrefixRangeEnd(std::string("a\xff", 2)), "b");
}

TEST(ClusterParsingTest, EtcdRepliesAreParsedDefensively) {
  StatusOr<EtcdRange> r = ParseEtcdRangeReply(
      R"({"header":{"revision":"12"},"kvs":[{"key":"L2E=","value":"eA==","mod_revision":"7","lease":"99"}]})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->revision, 12);
  ASSERT_EQ(r->kvs.size(), 1u);
  EXPECT_EQ(r->kvs[0].key, "/a");
  EXPECT_EQ(r->kvs[0].value, "x");
  EXPECT_EQ(r->kvs[0].lease, 99);
  EXPECT_FALSE(ParseEtcdRangeReply(R"({"kvs":[{"key":"***"}]})").ok());
  EXPECT_FALSE(ParseEtcdRangeReply(R"({"kvs":{}})").ok());
  EXPECT_FALSE(ParseEtcdRangeReply(R"({"header":{"revision":"x1"}})").ok());
  EXPECT_FALSE(ParseEtcdRangeReply(R"({"error":"etcdserver: no leader","code":14})").ok());
  int64_t revision = 0;
  bool compacted = false;
  StatusOr<std::vector<EtcdWatchEvent>> events = ParseEtcdWatchLine(
      R"({"result":{"header":{"revision":"20"},"events":[{"kv":{"key":"L2E=","value":"eQ=="}},{"type":"DELETE","kv":{"key":"L2I="}}]}})",
      &revision, &compacted);
  ASSERT_TRUE(events.ok()) << events.status().message();
  EXPECT_EQ(revision, 20);
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].type, EtcdWatchEvent::Type::kPut);
  EXPECT_EQ((*events)[1].type, EtcdWatchEvent::Type::kDelete);
  EXPECT_EQ((*events)[1].kv.key, "/b");
  ASSERT_TRUE(ParseEtcdWatchLine(R"({"result":{"compact_revision":"5","canceled":true}})", &revision, &compacted).ok());
  EXPECT_TRUE(compacted);
  EXPECT_FALSE(ParseEtcdWatchLine(R"({"result":{"events":[{"type":"EXPLODE","kv":{}}]}})", &revision, &compacted).ok());
  EXPECT_FALSE(ParseEtcdWatchLine("{]", &revision, &compacted).ok());
}

}  // namespace
}  // namespace tf
