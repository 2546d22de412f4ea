#include "cluster/etcd_client.h"

#include <openssl/evp.h>

#include <boost/asio/io_context.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cluster/http_call.h"

namespace tf {
namespace {

using Json = nlohmann::json;
namespace http = boost::beast::http;

constexpr size_t kMaxWatchLineBytes = 16 << 20;

// etcd's int64 fields arrive as strings ("123"), sometimes as numbers.
StatusOr<int64_t> Int64Field(const Json& object, const char* name) {
  const auto it = object.find(name);
  if (it == object.end() || it->is_null()) return int64_t{0};
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_string()) {
    const std::string& s = it->get_ref<const std::string&>();
    try {
      size_t used = 0;
      const long long v = std::stoll(s, &used);
      if (used == s.size()) return static_cast<int64_t>(v);
    } catch (...) {
    }
  }
  return DataLossError(fmt::format("etcd reply: field '{}' is not an integer", name));
}

StatusOr<std::string> Base64Field(const Json& object, const char* name) {
  const auto it = object.find(name);
  if (it == object.end() || it->is_null()) return std::string();
  if (!it->is_string()) return DataLossError(fmt::format("etcd reply: field '{}' is not a string", name));
  return Base64Decode(it->get_ref<const std::string&>());
}

StatusOr<EtcdKeyValue> ParseKeyValue(const Json& kv) {
  if (!kv.is_object()) return DataLossError("etcd reply: a key-value is not an object");
  EtcdKeyValue out;
  TF_ASSIGN_OR_RETURN(out.key, Base64Field(kv, "key"));
  TF_ASSIGN_OR_RETURN(out.value, Base64Field(kv, "value"));
  TF_ASSIGN_OR_RETURN(out.mod_revision, Int64Field(kv, "mod_revision"));
  TF_ASSIGN_OR_RETURN(out.lease, Int64Field(kv, "lease"));
  return out;
}

// An error object the gateway sends instead of a result.
std::optional<std::string> GatewayError(const Json& j) {
  if (!j.is_object()) return "not a JSON object";
  const auto it = j.find("error");
  if (it == j.end()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("message") && (*it)["message"].is_string()) return (*it)["message"].get<std::string>();
  return it->dump();
}

}  // namespace

std::string Base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

StatusOr<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return DataLossError(fmt::format("base64 of {} characters (not a multiple of 4)", text.size()));
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return DataLossError("invalid base64");
  size_t padding = 0;
  if (!text.empty() && text.back() == '=') padding = text.size() >= 2 && text[text.size() - 2] == '=' ? 2 : 1;
  out.resize(static_cast<size_t>(n) - padding);
  return out;
}

std::string PrefixRangeEnd(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    if (static_cast<unsigned char>(end.back()) < 0xff) {
      end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key
}

StatusOr<EtcdRange> ParseEtcdRangeReply(const std::string& body) {
  const Json j = Json::parse(body, nullptr, false);
  if (auto error = GatewayError(j)) return UnavailableError(fmt::format("etcd range: {}", *error));
  EtcdRange out;
  if (j.contains("header") && j["header"].is_object()) {
    TF_ASSIGN_OR_RETURN(out.revision, Int64Field(j["header"], "revision"));
  }
  if (j.contains("kvs")) {
    if (!j["kvs"].is_array()) return DataLossError("etcd range: 'kvs' is not an array");
    for (const Json& kv : j["kvs"]) {
      TF_ASSIGN_OR_RETURN(EtcdKeyValue parsed, ParseKeyValue(kv));
      out.kvs.push_back(std::move(parsed));
    }
  }
  return out;
}

StatusOr<std::vector<EtcdWatchEvent>> ParseEtcdWatchLine(const std::string& line, int64_t* revision, bool* compacted) {
  *compacted = false;
  const Json j = Json::parse(line, nullptr, false);
  if (auto error = GatewayError(j)) return UnavailableError(fmt::format("etcd watch: {}", *error));
  const auto result = j.find("result");
  if (result == j.end() || !result->is_object()) return DataLossError("etcd watch: a message without 'result'");
  if (result->contains("header") && (*result)["header"].is_object()) {
    TF_ASSIGN_OR_RETURN(*revision, Int64Field((*result)["header"], "revision"));
  }
  TF_ASSIGN_OR_RETURN(const int64_t compact_revision, Int64Field(*result, "compact_revision"));
  if (compact_revision > 0) *compacted = true;
  std::vector<EtcdWatchEvent> events;
  const auto list = result->find("events");
  if (list == result->end() || list->is_null()) return events;
  if (!list->is_array()) return DataLossError("etcd watch: 'events' is not an array");
  for (const Json& e : *list) {
    if (!e.is_object() || !e.contains("kv")) return DataLossError("etcd watch: an event without 'kv'");
    EtcdWatchEvent event;
    const std::string type = e.contains("type") && e["type"].is_string() ? e["type"].get<std::string>() : "PUT";
    if (type == "DELETE") {
      event.type = EtcdWatchEvent::Type::kDelete;
    } else if (type != "PUT") {
      return DataLossError(fmt::format("etcd watch: event type '{}'", type));
    }
    TF_ASSIGN_OR_RETURN(event.kv, ParseKeyValue(e["kv"]));
    events.push_back(std::move(event));
  }
  return events;
}

EtcdClient::EtcdClient(std::string host, uint16_t port, std::chrono::milliseconds timeout)
    : host_(std::move(host)), port_(port), timeout_(timeout) {}

StatusOr<EtcdClient> EtcdClient::FromUrl(const std::string& url, std::chrono::milliseconds timeout) {
  StatusOr<std::pair<std::string, uint16_t>> hp = ParseHttpUrl(url);
  if (!hp.ok()) return InvalidArgumentError(fmt::format("--etcd {}: {}", url, hp.status().message()));
  return EtcdClient(hp->first, hp->second, timeout);
}

std::string EtcdClient::url() const { return fmt::format("http://{}:{}", host_, port_); }

StatusOr<std::string> EtcdClient::Post(const std::string& target, const std::string& body) {
  HttpCallSpec spec;
  spec.host = host_;
  spec.port = port_;
  spec.method = http::verb::post;
  spec.target = target;
  spec.body = body;
  spec.connect_timeout = timeout_;
  spec.idle_timeout = timeout_;
  StatusOr<HttpResponse> reply = HttpFetch(std::move(spec), timeout_, 64 << 20);
  if (!reply.ok()) return UnavailableError(fmt::format("etcd at {}: {}", url(), reply.status().message()));
  if (reply->status != 200) {
    return UnavailableError(fmt::format("etcd at {}{}: HTTP {}: {}", url(), target, reply->status, reply->body.substr(0, 300)));
  }
  return std::move(reply->body);
}

StatusOr<int64_t> EtcdClient::LeaseGrant(int64_t ttl_s) {
  TF_ASSIGN_OR_RETURN(const std::string body, Post("/v3/lease/grant", Json{{"TTL", std::to_string(ttl_s)}}.dump()));
  const Json j = Json::parse(body, nullptr, false);
  if (auto error = GatewayError(j)) return UnavailableError(fmt::format("etcd lease grant: {}", *error));
  TF_ASSIGN_OR_RETURN(const int64_t id, Int64Field(j, "ID"));
  if (id == 0) return DataLossError("etcd lease grant: no lease ID in the reply");
  return id;
}

StatusOr<int64_t> EtcdClient::LeaseKeepAlive(int64_t lease_id) {
  TF_ASSIGN_OR_RETURN(const std::string body, Post("/v3/lease/keepalive", Json{{"ID", std::to_string(lease_id)}}.dump()));
  // A stream of results; one request gives one line.
  const Json j = Json::parse(body.substr(0, body.find('\n')), nullptr, false);
  if (auto error = GatewayError(j)) return UnavailableError(fmt::format("etcd lease keepalive: {}", *error));
  if (!j.contains("result") || !j["result"].is_object()) return DataLossError("etcd lease keepalive: no result");
  TF_ASSIGN_OR_RETURN(const int64_t ttl, Int64Field(j["result"], "TTL"));
  if (ttl <= 0) return NotFoundError(fmt::format("etcd lease {:x} has expired", lease_id));
  return ttl;
}

Status EtcdClient::LeaseRevoke(int64_t lease_id) {
  TF_ASSIGN_OR_RETURN(const std::string body, Post("/v3/lease/revoke", Json{{"ID", std::to_string(lease_id)}}.dump()));
  const Json j = Json::parse(body, nullptr, false);
  if (auto error = GatewayError(j)) return UnavailableError(fmt::format("etcd lease revoke: {}", *error));
  return Status::Ok();
}

Status EtcdClient::Put(const std::string& key, const std::string& value, int64_t lease_id) {
  Json request = {{"key", Base64Encode(key)}, {"value", Base64Encode(value)}};
  if (lease_id != 0) request["lease"] = std::to_string(lease_id);
  TF_ASSIGN_OR_RETURN(const std::string body, Post("/v3/kv/put", request.dump()));
  const Json j = Json::parse(body, nullptr, false);
  if (auto error = GatewayError(j)) return UnavailableError(fmt::format("etcd put {}: {}", key, *error));
  return Status::Ok();
}

StatusOr<EtcdRange> EtcdClient::Range(const std::string& key, const std::string& range_end) {
  Json request = {{"key", Base64Encode(key)}};
  if (!range_end.empty()) request["range_end"] = Base64Encode(range_end);
  TF_ASSIGN_OR_RETURN(const std::string body, Post("/v3/kv/range", request.dump()));
  return ParseEtcdRangeReply(body);
}

StatusOr<EtcdRange> EtcdClient::Get(const std::string& key) { return Range(key, ""); }
StatusOr<EtcdRange> EtcdClient::GetPrefix(const std::string& prefix) { return Range(prefix, PrefixRangeEnd(prefix)); }

Status EtcdClient::Delete(const std::string& key) {
  TF_ASSIGN_OR_RETURN(const std::string body, Post("/v3/kv/deleterange", Json{{"key", Base64Encode(key)}}.dump()));
  const Json j = Json::parse(body, nullptr, false);
  if (auto error = GatewayError(j)) return UnavailableError(fmt::format("etcd delete {}: {}", key, *error));
  return Status::Ok();
}

Status EtcdClient::WatchPrefix(const std::string& prefix, int64_t start_revision,
                               const std::function<bool(const std::vector<EtcdWatchEvent>&, int64_t)>& on_events,
                               const std::atomic<bool>& stop) {
  Json create = {{"key", Base64Encode(prefix)}, {"range_end", Base64Encode(PrefixRangeEnd(prefix))},
                 {"progress_notify", true}};
  if (start_revision > 0) create["start_revision"] = std::to_string(start_revision);
  HttpCallSpec spec;
  spec.host = host_;
  spec.port = port_;
  spec.method = http::verb::post;
  spec.target = "/v3/watch";
  spec.body = Json{{"create_request", create}}.dump();
  spec.connect_timeout = timeout_;
  // etcd sends a progress notification every 10 minutes on an idle watch.
  spec.idle_timeout = std::chrono::minutes(11);
  boost::asio::io_context io(1);
  Status result = Status::Ok();
  bool finished = false;
  bool caller_stopped = false;
  int http_status = 0;
  std::string pending;
  HttpCallCallbacks cb;
  cb.on_header = [&](int status, const auto&) { http_status = status; };
  cb.on_body = [&](std::string_view bytes) {
    if (http_status != 200) {
      result = UnavailableError(fmt::format("etcd watch at {}: HTTP {}", url(), http_status));
      return false;
    }
    pending.append(bytes);
    size_t eol;
    while ((eol = pending.find('\n')) != std::string::npos) {
      const std::string line = pending.substr(0, eol);
      pending.erase(0, eol + 1);
      if (line.find_first_not_of(" \r\t") == std::string::npos) continue;
      int64_t revision = 0;
      bool compacted = false;
      StatusOr<std::vector<EtcdWatchEvent>> events = ParseEtcdWatchLine(line, &revision, &compacted);
      if (!events.ok()) {
        result = events.status();
        return false;
      }
      if (compacted) {
        result = FailedPreconditionError(fmt::format("etcd watch: revision {} was compacted", start_revision));
        return false;
      }
      if (!on_events(*events, revision)) {
        caller_stopped = true;
        return false;
      }
    }
    if (pending.size() > kMaxWatchLineBytes) {
      result = DataLossError("etcd watch: a message over 16 MiB");
      return false;
    }
    return true;
  };
  cb.on_done = [&](const Status& s) {
    if (result.ok() && !s.ok()) result = s;
    if (result.ok() && !caller_stopped) result = UnavailableError(fmt::format("etcd at {} ended the watch", url()));
    finished = true;
  };
  std::shared_ptr<HttpCall> call = StartHttpCall(&io, std::move(spec), std::move(cb));
  while (!finished && !stop.load()) io.run_for(std::chrono::milliseconds(100));
  if (!finished) {
    call->Cancel();
    result = Status::Ok();
  }
  io.restart();
  io.poll();
  return result;
}

}  // namespace tf
