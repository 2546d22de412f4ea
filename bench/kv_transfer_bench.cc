// KV transfer throughput: the real KvTransferServer and KvTransferClient
// over TCP, with the prefill engine replaced by a source that exports
// ready blocks at once (so the number is the protocol's — framing, XXH3
// checksums, socket copies, hash checks, imports — not a model's compute),
// against a same-host memcpy of the same bytes. Layouts: TinyLlama 1.1B
// (22 layers, K and V rows of 4 KV heads x 64) and DeepSeek-V2-Lite (27
// layers, MLA latent 512 + rope 64, one row).
// Usage: tf_kv_transfer_bench local|serve|fetch [--layout tinyllama|v2-lite]
//          [--kv f32|bf16] [--tokens N] [--rounds R] [--port P] [--peer HOST:PORT]
//          [--store DIR]
// `serve` runs the server alone (e.g. inside a network namespace), `fetch`
// the client against --peer, `local` both over loopback; with --store, full
// blocks go through a KV store directory (the prefill side writes each
// before its hash-only frame, the decode side reads and verifies it).
#include <chrono>
#include <cstdio>
#include <cstring>
#include <future>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "cluster/kv_transfer_client.h"
#include "cluster/kv_transfer_server.h"
#include "kvstore/block_store.h"
#include "tensor/kv_storage.h"

namespace tf {
namespace {

struct Args {
  std::string mode = "local";
  std::string layout = "tinyllama";
  std::string kv = "f32";
  int tokens = 1024;
  int rounds = 20;
  int port = 0;
  std::string peer;
  std::string store_dir;  // local only: full blocks through a shared KV store here
};

constexpr int kBlockSize = 16;

KvLayout LayoutOf(const std::string& name) {
  if (name == "v2-lite") return KvLayout{27, 576, 0, 1};
  return KvLayout{22, 256, 256, 4};
}

std::string Fingerprint(const Args& a) { return fmt::format("bench-{}|kv={}|block={}", a.layout, a.kv, kBlockSize); }

// Answers every prefill request on its own thread with the storage's blocks.
class InstantPrefill {
 public:
  InstantPrefill(KvStorage* source, std::string fingerprint) : source_(source), fingerprint_(std::move(fingerprint)) {}
  StatusOr<uint64_t> Submit(GenerationRequest g) {
    std::thread([this, g = std::move(g)] {
      const int64_t n = static_cast<int64_t>(g.prompt.size());
      const int64_t full = n / kBlockSize;
      const std::vector<BlockHash> hashes = ChainBlockHashes(RootBlockHash(fingerprint_), g.prompt, kBlockSize, full);
      for (int64_t b = g.export_from_block; b < (n + kBlockSize - 1) / kBlockSize; ++b) {
        std::vector<uint8_t> payload = g.kv_exporter->NewPayload(source_->block_bytes());
        (void)source_->ExportBlock(static_cast<int32_t>(b % source_->num_blocks()), payload);
        g.kv_exporter->OnBlock(b, static_cast<int32_t>(std::min<int64_t>(kBlockSize, n - b * kBlockSize)),
                               b < full ? hashes[b] : BlockHash{}, std::move(payload));
      }
      StreamDelta last;
      last.finished = true;
      last.finish_reason = FinishReason::kLength;
      g.sink->OnDelta(std::move(last));
    }).detach();
    return next_++;
  }

 private:
  KvStorage* source_;
  std::string fingerprint_;
  uint64_t next_ = 1;
};

std::unique_ptr<KvStorage> RandomStorage(const KvLayout& layout, DType type, int64_t blocks) {
  auto storage = std::move(*KvStorage::Create(layout, type, kBlockSize, blocks));
  std::vector<uint8_t> bytes(storage->block_bytes());
  std::mt19937 rng(7);
  for (auto& b : bytes) b = static_cast<uint8_t>(rng());
  for (int64_t i = 0; i < blocks; ++i) (void)storage->ImportBlock(static_cast<int32_t>(i), bytes);
  return storage;
}

std::unique_ptr<KvTransferServer> StartServer(const Args& a, InstantPrefill* prefill, const KvStorage& source,
                                              BlockStore** store_slot) {
  KvTransferServerOptions o;
  o.host = a.mode == "serve" ? "0.0.0.0" : "127.0.0.1";
  o.port = static_cast<uint16_t>(a.port);
  o.targets.push_back({Fingerprint(a), static_cast<uint32_t>(source.type()), kBlockSize,
                       static_cast<uint64_t>(source.block_bytes()),
                       [prefill](GenerationRequest g) { return prefill->Submit(std::move(g)); }, [](uint64_t) {}, nullptr});
  if (store_slot != nullptr) {
    // The store is opened after the server; the slot is filled before any request.
    o.targets.back().persist = [store_slot](const BlockHash& parent, std::span<const int32_t> tokens,
                                            std::span<const uint8_t> payload, const BlockHash& hash) {
      BlockStore* store = *store_slot;
      return store->InIndex(hash) ? Status::Ok() : store->Write(parent, tokens, payload);
    };
  }
  auto server = KvTransferServer::Start(std::move(o));
  if (!server.ok()) {
    std::fprintf(stderr, "%s\n", std::string(server.status().message()).c_str());
    std::exit(1);
  }
  return std::move(*server);
}

double MemcpySeconds(size_t bytes) {
  std::vector<uint8_t> a(bytes, 1), b(bytes, 2);
  double best = 1e9;
  for (int i = 0; i < 5; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    std::memcpy(b.data(), a.data(), bytes);
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best + (b[bytes / 2] == 7 ? 1e-12 : 0);
}

std::unique_ptr<BlockStore> OpenStore(const Args& a, const KvStorage& like) {
  BlockStoreOptions o;
  o.dir = a.store_dir;
  o.capacity_bytes = uint64_t{8} << 30;
  o.format.model_root = RootBlockHash(Fingerprint(a));
  o.format.kv_type = static_cast<uint32_t>(like.type());
  o.format.block_size = kBlockSize;
  o.format.n_layer = static_cast<uint32_t>(like.layout().n_layer);
  o.format.payload_bytes = like.block_bytes();
  auto store = BlockStore::Open(o);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", std::string(store.status().message()).c_str());
    std::exit(1);
  }
  return std::move(*store);
}

void Fetch(const Args& a, const std::string& peer, DType type, BlockStore* store = nullptr) {
  const KvLayout layout = LayoutOf(a.layout);
  const int64_t blocks = (a.tokens - 1 + kBlockSize - 1) / kBlockSize;
  auto dest = std::move(*KvStorage::Create(layout, type, kBlockSize, blocks));
  KvTransferClient client({});
  std::vector<int32_t> tokens(static_cast<size_t>(a.tokens - 1));
  const int64_t full = static_cast<int64_t>(tokens.size()) / kBlockSize;
  std::vector<double> seconds;
  uint64_t bytes = 0;
  for (int r = 0; r < a.rounds + 1; ++r) {
    // New tokens every round: the store path writes every block afresh.
    for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int32_t>(1 + (i + 7919 * r) % 30000);
    const std::vector<BlockHash> hashes = ChainBlockHashes(RootBlockHash(Fingerprint(a)), tokens, kBlockSize, full);
    KvFillJob job;
    job.remote.peer = peer;
    job.kv_fingerprint = Fingerprint(a);
    job.tokens = tokens;
    for (int64_t b = 0; b < blocks; ++b) job.blocks.push_back(static_cast<int32_t>(b));
    job.hashes = hashes;
    job.store = store;
    job.remote.via_store = store != nullptr;
    std::promise<KvFillResult> done;
    const auto t0 = std::chrono::steady_clock::now();
    client.StartFill(std::move(job), dest.get(), [&](KvFillResult res) { done.set_value(std::move(res)); });
    const KvFillResult res = done.get_future().get();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!res.status.ok()) {
      std::fprintf(stderr, "fill failed: %s\n", std::string(res.status.message()).c_str());
      std::exit(1);
    }
    bytes = static_cast<uint64_t>(blocks) * dest->block_bytes();  // moved, by socket or store
    if (r > 0) seconds.push_back(s);  // the first round warms up connections and pages
  }
  std::sort(seconds.begin(), seconds.end());
  const double median = seconds[seconds.size() / 2];
  const double memcpy_s = MemcpySeconds(bytes);
  std::printf("{\"path\":\"%s\",\"layout\":\"%s\",\"kv\":\"%s\",\"tokens\":%d,\"bytes\":%llu,\"bytes_per_token\":%.0f,"
              "\"median_s\":%.6f,\"gb_per_s\":%.3f,\"memcpy_gb_per_s\":%.3f,\"share_of_memcpy\":%.3f}\n",
              store != nullptr ? "store" : "tcp", a.layout.c_str(), a.kv.c_str(), a.tokens, static_cast<unsigned long long>(bytes),
              static_cast<double>(dest->block_bytes()) / kBlockSize, median, bytes / median / 1e9, bytes / memcpy_s / 1e9,
              memcpy_s / median);
}

int Main(int argc, char** argv) {
  Args a;
  if (argc > 1) a.mode = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--layout") a.layout = v;
    else if (k == "--kv") a.kv = v;
    else if (k == "--tokens") a.tokens = std::stoi(v);
    else if (k == "--rounds") a.rounds = std::stoi(v);
    else if (k == "--port") a.port = std::stoi(v);
    else if (k == "--peer") a.peer = v;
    else if (k == "--store") a.store_dir = v;
  }
  const DType type = a.kv == "bf16" ? DType::kBF16 : DType::kF32;
  if (a.mode == "fetch") {
    Fetch(a, a.peer, type);
    return 0;
  }
  auto source = RandomStorage(LayoutOf(a.layout), type, 64);
  InstantPrefill prefill(source.get(), Fingerprint(a));
  std::unique_ptr<BlockStore> server_store, client_store;
  BlockStore* server_store_ptr = nullptr;
  if (!a.store_dir.empty()) {
    server_store = OpenStore(a, *source);
    client_store = OpenStore(a, *source);
    server_store_ptr = server_store.get();
  }
  auto server = StartServer(a, &prefill, *source, a.store_dir.empty() ? nullptr : &server_store_ptr);
  if (a.mode == "serve") {
    std::printf("serving on port %u\n", server->port());
    std::fflush(stdout);
    for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
  }
  Fetch(a, fmt::format("127.0.0.1:{}", server->port()), type, client_store.get());
  server->Stop();
  return 0;
}

}  // namespace
}  // namespace tf

int main(int argc, char** argv) { return tf::Main(argc, argv); }
