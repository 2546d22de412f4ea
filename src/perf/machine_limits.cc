#include "perf/machine_limits.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "kernels/machine_probes.h"

namespace tf {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

// Best of `passes` runs of every thread streaming its share of the buffer.
double MeasureBandwidth(const MachineProbes& probes, ThreadPool* pool, const uint8_t* buffer, size_t bytes,
                        int passes) {
  const int threads = pool->num_threads();
  const size_t share = bytes / threads / 128 * 128;
  std::atomic<uint64_t> sink{0};
  double best = 0;
  for (int p = 0; p < passes; ++p) {
    const auto start = Clock::now();
    pool->Run([&](int index) { sink ^= probes.read(buffer + share * index, share); });
    const double s = Seconds(start, Clock::now());
    best = std::max(best, static_cast<double>(share * threads) / s);
  }
  return best / 1e9;
}

// Best of `passes` runs of every thread running the probe at once.
double MeasurePeak(ThreadPool* pool, double (*probe)(int64_t), int64_t iters, int passes) {
  double best = 0;
  for (int p = 0; p < passes; ++p) {
    std::atomic<double> ops{0};
    const auto start = Clock::now();
    pool->Run([&](int) {
      const double done = probe(iters);
      double seen = ops.load();
      while (!ops.compare_exchange_weak(seen, seen + done)) {
      }
    });
    best = std::max(best, ops.load() / Seconds(start, Clock::now()));
  }
  return best / 1e9;
}

nlohmann::json ToJson(const MachineLimits& m) {
  return {{"cpu", m.cpu},       {"isa", m.isa},             {"threads", m.threads},
          {"bw_gbs", m.bw_gbs}, {"int8_gops", m.int8_gops}, {"fp32_gflops", m.fp32_gflops}};
}

nlohmann::json ReadCacheFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return nlohmann::json::array();
  nlohmann::json doc = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || !doc.contains("entries") || !doc["entries"].is_array()) return nlohmann::json::array();
  return doc["entries"];
}

bool Matches(const nlohmann::json& e, const std::string& cpu, const std::string& isa, int threads) {
  return e.is_object() && e.value("cpu", "") == cpu && e.value("isa", "") == isa && e.value("threads", -1) == threads;
}

}  // namespace

std::string CpuModelName() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos && colon + 2 <= line.size()) return line.substr(colon + 2);
    }
  }
  return "unknown";
}

StatusOr<MachineLimits> MeasureMachineLimits(Isa isa, ThreadPool* pool, size_t buffer_bytes) {
  const MachineProbes& probes = GetMachineProbes(isa);
  MachineLimits m;
  m.cpu = CpuModelName();
  m.isa = std::string(IsaName(isa));
  m.threads = pool->num_threads();
  std::unique_ptr<uint8_t[]> buffer(new (std::nothrow) uint8_t[buffer_bytes]);
  if (buffer == nullptr) {
    return ResourceExhaustedError(fmt::format("cannot allocate {} bytes to measure memory bandwidth", buffer_bytes));
  }
  // Touch every page from the threads that will read them.
  const size_t share = buffer_bytes / m.threads;
  pool->Run([&](int index) { std::memset(buffer.get() + share * index, index + 1, share); });
  m.bw_gbs = MeasureBandwidth(probes, pool, buffer.get(), buffer_bytes, 5);
  m.int8_gops = MeasurePeak(pool, probes.int8_ops, 20'000'000, 3);
  m.fp32_gflops = MeasurePeak(pool, probes.fp32_ops, 20'000'000, 3);
  return m;
}

std::string DefaultLimitsCachePath() {
  std::filesystem::path dir;
  if (const char* d = std::getenv("TOKENFAB_CACHE_DIR"); d != nullptr && *d != '\0') {
    dir = d;
  } else if (const char* x = std::getenv("XDG_CACHE_HOME"); x != nullptr && *x != '\0') {
    dir = std::filesystem::path(x) / "tokenfab";
  } else if (const char* h = std::getenv("HOME"); h != nullptr && *h != '\0') {
    dir = std::filesystem::path(h) / ".cache" / "tokenfab";
  } else {
    dir = std::filesystem::temp_directory_path() / "tokenfab";
  }
  return (dir / "machine-limits.json").string();
}

std::optional<MachineLimits> LoadCachedLimits(const std::string& path, const std::string& cpu,
                                              const std::string& isa, int threads) {
  for (const nlohmann::json& e : ReadCacheFile(path)) {
    if (!Matches(e, cpu, isa, threads)) continue;
    MachineLimits m;
    m.cpu = cpu;
    m.isa = isa;
    m.threads = threads;
    const auto num = [&e](const char* key) { return e.contains(key) && e[key].is_number() ? e[key].get<double>() : 0.0; };
    m.bw_gbs = num("bw_gbs");
    m.int8_gops = num("int8_gops");
    m.fp32_gflops = num("fp32_gflops");
    if (m.bw_gbs > 0 && m.int8_gops > 0 && m.fp32_gflops > 0) return m;
  }
  return std::nullopt;
}

Status SaveCachedLimits(const std::string& path, const MachineLimits& limits) {
  nlohmann::json entries = nlohmann::json::array();
  for (const nlohmann::json& e : ReadCacheFile(path)) {
    if (!Matches(e, limits.cpu, limits.isa, limits.threads)) entries.push_back(e);
  }
  entries.push_back(ToJson(limits));
  std::error_code ec;
  const std::filesystem::path target(path);
  if (target.has_parent_path()) std::filesystem::create_directories(target.parent_path(), ec);
  if (ec) return IoError(fmt::format("cannot create {}: {}", target.parent_path().string(), ec.message()));
  const std::string tmp = fmt::format("{}.{}.tmp", path, ::getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) return IoError(fmt::format("cannot write {}", tmp));
    out << nlohmann::json{{"entries", entries}}.dump(2) << "\n";
    if (!out) return IoError(fmt::format("cannot write {}", tmp));
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) return IoError(fmt::format("cannot rename {} to {}: {}", tmp, path, ec.message()));
  return Status::Ok();
}

}  // namespace tf
