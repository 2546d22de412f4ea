#include "loadgen/workload.h"

#include <charconv>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace tf {
namespace {

using Json = nlohmann::json;

// Short, common words: one token each in the usual BPE vocabularies (and in
// tokenfab's synthetic one), so N words make a prompt of about N tokens.
constexpr const char* kWords[] = {
    "the", "and", "for", "you", "not", "are", "but", "had", "his", "she", "was", "one", "all", "can", "her", "has",
    "him", "how", "its", "may", "new", "now", "old", "our", "out", "see", "two", "way", "who", "did", "get", "let",
    "man", "say", "too", "use", "day", "any", "big", "end", "far", "few", "got", "put", "run", "set", "try", "why"};

bool ParseInt(std::string_view s, int64_t* out) {
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

int64_t LengthDist::Sample(std::mt19937_64* rng) const {
  if (lo == hi) return lo;
  return std::uniform_int_distribution<int64_t>(lo, hi)(*rng);
}

StatusOr<LengthDist> LengthDist::Parse(const std::string& text, const char* flag) {
  LengthDist d;
  const size_t colon = text.find(':');
  const bool ok = colon == std::string::npos
                      ? ParseInt(text, &d.lo) && (d.hi = d.lo, true)
                      : ParseInt(std::string_view(text).substr(0, colon), &d.lo) &&
                            ParseInt(std::string_view(text).substr(colon + 1), &d.hi);
  if (!ok || d.lo < 1 || d.hi < d.lo || d.hi > (1 << 20)) {
    return InvalidArgumentError(fmt::format("{} {}: expected N or LO:HI with 1 <= LO <= HI <= 1048576", flag, text));
  }
  return d;
}

std::string LoadgenTarget::Url() const { return fmt::format("http://{}:{}{}", host, port, base_path); }

StatusOr<LoadgenTarget> LoadgenTarget::Parse(const std::string& url) {
  constexpr std::string_view kScheme = "http://";
  if (url.rfind(kScheme, 0) != 0) {
    return InvalidArgumentError(fmt::format("--url {}: only http:// URLs are supported", url));
  }
  std::string rest = url.substr(kScheme.size());
  LoadgenTarget t;
  const size_t slash = rest.find('/');
  if (slash != std::string::npos) {
    t.base_path = rest.substr(slash);
    rest.resize(slash);
    while (!t.base_path.empty() && t.base_path.back() == '/') t.base_path.pop_back();
    if (t.base_path.size() >= 3 && t.base_path.compare(t.base_path.size() - 3, 3, "/v1") == 0) {
      t.base_path.resize(t.base_path.size() - 3);  // accept .../v1 as OpenAI clients do
    }
  }
  const size_t colon = rest.rfind(':');
  t.host = rest.substr(0, colon);
  if (colon != std::string::npos) {
    int64_t port = 0;
    if (!ParseInt(std::string_view(rest).substr(colon + 1), &port) || port < 1 || port > 65535) {
      return InvalidArgumentError(fmt::format("--url {}: bad port", url));
    }
    t.port = static_cast<uint16_t>(port);
  }
  if (t.host.empty()) return InvalidArgumentError(fmt::format("--url {}: no host", url));
  return t;
}

StatusOr<Workload> Workload::Create(const WorkloadConfig& config) {
  Workload w;
  w.config_ = config;
  std::mt19937_64 rng(config.seed ^ 0x5eedULL);
  w.shared_prefix_ = w.RandomWords(config.shared_prefix_tokens, &rng);
  if (config.prompts_file.empty()) return w;
  std::ifstream in(config.prompts_file);
  if (!in) return NotFoundError(fmt::format("--prompts-file {}: cannot open", config.prompts_file));
  std::string line;
  int64_t line_no = 0;
  while (std::getline(in, line) && w.file_bodies_.size() < 1000000) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    Json j = Json::parse(line, nullptr, false);
    if (!j.is_object() || !(j.contains("prompt") || j.contains("messages"))) {
      return InvalidArgumentError(fmt::format("--prompts-file {} line {}: expected an object with \"prompt\" or \"messages\"",
                                              config.prompts_file, line_no));
    }
    w.file_max_tokens_.push_back(j.value("max_tokens", int64_t{0}));
    w.file_bodies_.push_back(j.dump());
  }
  if (w.file_bodies_.empty()) return InvalidArgumentError(fmt::format("--prompts-file {}: no prompts", config.prompts_file));
  return w;
}

std::string Workload::RandomWords(int64_t n, std::mt19937_64* rng) const {
  std::string text;
  std::uniform_int_distribution<size_t> pick(0, std::size(kWords) - 1);
  for (int64_t i = 0; i < n; ++i) {
    if (!text.empty()) text += ' ';
    text += kWords[pick(*rng)];
  }
  return text;
}

PlannedRequest Workload::Make(int64_t index) {
  std::mt19937_64 rng(config_.seed * 1000003ULL + static_cast<uint64_t>(index));
  Json body;
  int64_t max_tokens = config_.output_tokens.Sample(&rng);
  if (!file_bodies_.empty()) {
    const size_t i = static_cast<size_t>(index) % file_bodies_.size();
    body = Json::parse(file_bodies_[i]);
    if (file_max_tokens_[i] > 0) max_tokens = file_max_tokens_[i];
  } else {
    const int64_t unique = std::max<int64_t>(1, config_.input_tokens.Sample(&rng) - config_.shared_prefix_tokens);
    // A distinct head word per request keeps unshared prompts from sharing
    // cache blocks by accident; the shared prefix comes first when asked for.
    std::string text = shared_prefix_;
    if (!text.empty()) text += ' ';
    text += fmt::format("r{} ", index) + RandomWords(unique - 1, &rng);
    if (config_.chat) body["messages"] = Json::array({{{"role", "user"}, {"content", text}}});
    else body["prompt"] = text;
  }
  if (config_.chat && body.contains("prompt") && !body.contains("messages")) {
    body["messages"] = Json::array({{{"role", "user"}, {"content", body["prompt"]}}});
    body.erase("prompt");
  }
  if (!config_.model.empty()) body["model"] = config_.model;
  body["max_tokens"] = max_tokens;
  body["stream"] = true;
  body["stream_options"] = {{"include_usage", true}};
  if (config_.ignore_eos) body["ignore_eos"] = true;
  body.erase("max_completion_tokens");
  return {body.dump(-1, ' ', false, Json::error_handler_t::replace), max_tokens};
}

}  // namespace tf
