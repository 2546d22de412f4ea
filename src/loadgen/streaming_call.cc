#include "loadgen/streaming_call.h"

#include <limits>

#include <boost/asio/connect.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace tf {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using Json = nlohmann::json;

constexpr size_t kMaxEventBytes = 4 << 20;  // a bound on one SSE event

class Call : public std::enable_shared_from_this<Call> {
 public:
  Call(net::io_context* io, const CallSpec& spec, std::function<void(RequestRecord)> done)
      : stream_(*io), spec_(spec), done_(std::move(done)) {}

  void Start() {
    record_.start_s = Now();
    stream_.expires_after(spec_.timeout);
    stream_.async_connect(spec_.endpoints, [self = shared_from_this()](beast::error_code ec, const auto&) {
      if (ec) return self->Fail(ec == beast::error::timeout ? "timeout" : "connect", ec.message());
      self->Send();
    });
  }

 private:
  double Now() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - spec_.run_start).count();
  }

  void Send() {
    request_.method(http::verb::post);
    request_.target(spec_.target);
    request_.version(11);
    request_.set(http::field::host, spec_.host_header);
    request_.set(http::field::content_type, "application/json");
    request_.set(http::field::accept, "text/event-stream");
    if (!spec_.api_key.empty()) request_.set(http::field::authorization, "Bearer " + spec_.api_key);
    request_.keep_alive(false);
    request_.body() = spec_.body;
    request_.prepare_payload();
    http::async_write(stream_, request_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->Fail(ec == beast::error::timeout ? "timeout" : "send", ec.message());
      self->ReadHeader();
    });
  }

  void ReadHeader() {
    // Streams can be long; a finite limit (boost::none compares wrongly in
    // Boost 1.74: every length exceeds it).
    parser_.body_limit(std::numeric_limits<std::uint64_t>::max());
    http::async_read_header(stream_, buffer_, parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->Fail(ec == beast::error::timeout ? "timeout" : "read", ec.message());
      self->status_ = self->parser_.get().result_int();
      self->ReadBody();
    });
  }

  void ReadBody() {
    if (parser_.is_done()) return Finish();
    parser_.get().body().data = chunk_;
    parser_.get().body().size = sizeof(chunk_);
    // read_some returns as soon as any body bytes arrive, so every SSE
    // event is timestamped when it lands, not when the response completes.
    http::async_read_some(stream_, buffer_, parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
      const size_t got = sizeof(self->chunk_) - self->parser_.get().body().size;
      if (ec == http::error::need_buffer) ec = {};
      if (ec && ec != http::error::end_of_stream) {
        return self->Fail(ec == beast::error::timeout ? "timeout" : "read", ec.message());
      }
      self->OnBytes(std::string_view(self->chunk_, got));
      if (ec == http::error::end_of_stream) return self->Finish();
      self->ReadBody();
    });
  }

  void OnBytes(std::string_view bytes) {
    if (status_ != 200) {
      if (raw_.size() < 4096) raw_.append(bytes.substr(0, 4096 - raw_.size()));
      return;
    }
    sse_.append(bytes);
    size_t end;
    while ((end = sse_.find("\n\n")) != std::string::npos) {
      OnEvent(std::string_view(sse_).substr(0, end));
      sse_.erase(0, end + 2);
    }
    if (sse_.size() > kMaxEventBytes) {
      sse_.clear();
      stream_error_ = "an SSE event exceeded 4 MiB";
    }
  }

  void OnEvent(std::string_view event) {
    // Lines of the event; only "data:" lines matter.
    size_t pos = 0;
    while (pos < event.size()) {
      size_t eol = event.find('\n', pos);
      if (eol == std::string_view::npos) eol = event.size();
      std::string_view line = event.substr(pos, eol - pos);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      pos = eol + 1;
      if (line.rfind("data:", 0) != 0) continue;
      line.remove_prefix(5);
      if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
      if (line == "[DONE]") continue;
      OnData(line);
    }
  }

  void OnData(std::string_view data) {
    const Json j = Json::parse(data, nullptr, false);
    if (!j.is_object()) return;
    if (j.contains("error")) {
      stream_error_ = j["error"].is_object() ? j["error"].value("message", "error") : "error";
      return;
    }
    if (j.contains("usage") && j["usage"].is_object()) {
      record_.prompt_tokens = j["usage"].value("prompt_tokens", int64_t{0});
      record_.output_tokens = j["usage"].value("completion_tokens", int64_t{0});
      record_.usage_reported = true;
    }
    if (!j.contains("choices") || !j["choices"].is_array()) return;
    for (const Json& c : j["choices"]) {
      bool has_content = false;
      if (c.contains("text") && c["text"].is_string()) has_content = !c["text"].get_ref<const std::string&>().empty();
      if (c.contains("delta") && c["delta"].is_object()) {
        for (const char* key : {"content", "reasoning_content", "reasoning"}) {
          const auto it = c["delta"].find(key);
          if (it != c["delta"].end() && it->is_string() && !it->get_ref<const std::string&>().empty()) has_content = true;
        }
      }
      if (has_content) {
        const double now = Now();
        if (record_.ttft_s < 0) record_.ttft_s = now - record_.start_s;
        record_.token_times_s.push_back(now);
      }
    }
  }

  void Finish() {
    record_.e2e_s = Now() - record_.start_s;
    if (status_ != 200) {
      record_.error = fmt::format("http_{}", status_);
      record_.error_detail = raw_;
    } else if (!stream_error_.empty()) {
      record_.error = "stream_error";
      record_.error_detail = stream_error_;
    } else if (record_.ttft_s < 0) {
      record_.error = "no_tokens";
    }
    if (!record_.usage_reported) record_.output_tokens = static_cast<int64_t>(record_.token_times_s.size());
    Done();
  }

  void Fail(const char* type, const std::string& detail) {
    record_.e2e_s = Now() - record_.start_s;
    record_.error = type;
    record_.error_detail = detail;
    Done();
  }

  void Done() {
    beast::error_code ec;
    stream_.socket().shutdown(net::ip::tcp::socket::shutdown_both, ec);
    stream_.close();
    if (done_) {
      auto done = std::move(done_);
      done_ = nullptr;
      done(std::move(record_));
    }
  }

  beast::tcp_stream stream_;
  CallSpec spec_;
  std::function<void(RequestRecord)> done_;
  http::request<http::string_body> request_;
  http::response_parser<http::buffer_body> parser_;
  beast::flat_buffer buffer_;
  char chunk_[16384];
  int status_ = 0;
  std::string sse_;
  std::string raw_;
  std::string stream_error_;
  RequestRecord record_;
};

}  // namespace

void StartStreamingCall(net::io_context* io, const CallSpec& spec, std::function<void(RequestRecord)> done) {
  std::make_shared<Call>(io, spec, std::move(done))->Start();
}

}  // namespace tf
