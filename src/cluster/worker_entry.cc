#include "cluster/worker_entry.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cluster/http_call.h"

namespace tf {
namespace {

using Json = nlohmann::json;

constexpr size_t kMaxEntryBytes = 16 * 1024;
constexpr size_t kMaxStringBytes = 512;

Json Unsigned(const WorkerEntry& e) {
  // nlohmann's json sorts keys, so the dump is canonical.
  return Json{{"address", e.address},
              {"model", e.model},
              {"role", e.role},
              {"fingerprint", e.fingerprint},
              {"kv_fingerprint", e.kv_fingerprint},
              {"kv_type", e.kv_type},
              {"block_size", e.block_size},
              {"kv_capacity_blocks", e.kv_capacity_blocks},
              {"ctx_size", e.ctx_size},
              {"n_vocab", e.n_vocab},
              {"kv_events", e.kv_events},
              {"kv_transfer", e.kv_transfer},
              {"kv_store", e.kv_store}};
}

Status ReadString(const Json& j, const char* name, bool required, std::string* out) {
  const auto it = j.find(name);
  if (it == j.end()) {
    if (required) return InvalidArgumentError(fmt::format("worker entry: '{}' is missing", name));
    return Status::Ok();
  }
  if (!it->is_string() || it->get_ref<const std::string&>().size() > kMaxStringBytes) {
    return InvalidArgumentError(fmt::format("worker entry: '{}' is not a string of at most {} bytes", name, kMaxStringBytes));
  }
  *out = it->get<std::string>();
  if (required && out->empty()) return InvalidArgumentError(fmt::format("worker entry: '{}' is empty", name));
  return Status::Ok();
}

Status ReadInt(const Json& j, const char* name, int64_t lo, int64_t hi, int64_t* out) {
  const auto it = j.find(name);
  if (it == j.end() || !it->is_number_integer()) {
    return InvalidArgumentError(fmt::format("worker entry: '{}' is missing or not an integer", name));
  }
  const int64_t v = it->get<int64_t>();
  if (v < lo || v > hi) return InvalidArgumentError(fmt::format("worker entry: '{}' = {} is outside [{}, {}]", name, v, lo, hi));
  *out = v;
  return Status::Ok();
}

}  // namespace

std::string WorkerEntry::Key() const { return fmt::format("{}{}/{}/{}", kWorkersPrefix, model, role, address); }

std::string WorkerEntry::ToJson(const ClusterKey* key) const {
  Json j = Unsigned(*this);
  if (key != nullptr) j["hmac"] = key->Sign(Unsigned(*this).dump());
  return j.dump();
}

StatusOr<WorkerEntry> ParseWorkerEntry(const std::string& json, const ClusterKey* key) {
  if (json.size() > kMaxEntryBytes) return InvalidArgumentError(fmt::format("worker entry: {} bytes", json.size()));
  const Json j = Json::parse(json, nullptr, false);
  if (!j.is_object()) return InvalidArgumentError("worker entry: not a JSON object");
  WorkerEntry e;
  TF_RETURN_IF_ERROR(ReadString(j, "address", true, &e.address));
  TF_RETURN_IF_ERROR(ReadString(j, "model", true, &e.model));
  TF_RETURN_IF_ERROR(ReadString(j, "role", true, &e.role));
  TF_RETURN_IF_ERROR(ReadString(j, "fingerprint", true, &e.fingerprint));
  TF_RETURN_IF_ERROR(ReadString(j, "kv_fingerprint", true, &e.kv_fingerprint));
  TF_RETURN_IF_ERROR(ReadString(j, "kv_type", true, &e.kv_type));
  TF_RETURN_IF_ERROR(ReadString(j, "kv_events", false, &e.kv_events));
  TF_RETURN_IF_ERROR(ReadString(j, "kv_transfer", false, &e.kv_transfer));
  TF_RETURN_IF_ERROR(ReadString(j, "kv_store", false, &e.kv_store));
  int64_t block_size = 0;
  TF_RETURN_IF_ERROR(ReadInt(j, "block_size", 1, 1024, &block_size));
  e.block_size = static_cast<int>(block_size);
  TF_RETURN_IF_ERROR(ReadInt(j, "kv_capacity_blocks", 1, int64_t{1} << 40, &e.kv_capacity_blocks));
  TF_RETURN_IF_ERROR(ReadInt(j, "ctx_size", 2, int64_t{1} << 24, &e.ctx_size));
  TF_RETURN_IF_ERROR(ReadInt(j, "n_vocab", 1, int64_t{1} << 24, &e.n_vocab));
  if (e.role != "prefill" && e.role != "decode" && e.role != "both") {
    return InvalidArgumentError(fmt::format("worker entry: role '{}' is not prefill, decode or both", e.role));
  }
  if (Status s = ParseHostPort(e.address).status(); !s.ok()) {
    return InvalidArgumentError(fmt::format("worker entry: address: {}", s.message()));
  }
  if (!e.kv_events.empty()) {
    if (Status s = ParseHostPort(e.kv_events).status(); !s.ok()) {
      return InvalidArgumentError(fmt::format("worker entry: kv_events: {}", s.message()));
    }
  }
  if (!e.kv_transfer.empty()) {
    if (Status s = ParseHostPort(e.kv_transfer).status(); !s.ok()) {
      return InvalidArgumentError(fmt::format("worker entry: kv_transfer: {}", s.message()));
    }
  }
  if (e.role == "prefill" && e.kv_transfer.empty()) {
    return InvalidArgumentError("worker entry: a prefill worker without a 'kv_transfer' address");
  }
  if (key != nullptr) {
    const auto it = j.find("hmac");
    if (it == j.end() || !it->is_string()) return InvalidArgumentError("worker entry: no 'hmac' (the cluster has a key)");
    if (!key->Verify(Unsigned(e).dump(), it->get_ref<const std::string&>())) {
      return InvalidArgumentError("worker entry: the 'hmac' does not match (not signed with this cluster's key)");
    }
  }
  return e;
}

}  // namespace tf
