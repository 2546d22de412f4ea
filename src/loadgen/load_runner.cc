#include "loadgen/load_runner.h"

#include <cstdio>
#include <random>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

#include "loadgen/streaming_call.h"

namespace tf {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;

class Driver {
 public:
  Driver(const RunnerOptions& options, const LoadShape& shape, Workload* workload, CallSpec base)
      : options_(options), shape_(shape), workload_(workload), base_(std::move(base)), arrivals_(io_),
        ticker_(io_), rng_(workload->config().seed ^ 0xa77a11ULL) {}

  // Why the run stopped early (empty: it ran its course).
  const std::string& gave_up() const { return gave_up_; }

  RunResult Run() {
    base_.run_start = Clock::now();
    deadline_ = shape_.duration_s > 0 ? base_.run_start + std::chrono::duration_cast<Clock::duration>(
                                                               std::chrono::duration<double>(shape_.duration_s))
                                      : Clock::time_point::max();
    if (shape_.concurrency > 0) {
      for (int i = 0; i < shape_.concurrency && MayIssue(); ++i) Issue();
    } else {
      ScheduleArrival();
    }
    if (options_.progress) Tick();
    io_.run();
    RunResult result;
    result.shape = shape_;
    result.label = shape_.concurrency > 0 ? fmt::format("concurrency={}", shape_.concurrency)
                                          : fmt::format("rate={:g}", shape_.rate);
    result.wall_s = std::chrono::duration<double>(last_done_ - base_.run_start).count();
    result.records = std::move(records_);
    if (options_.progress) std::fprintf(stderr, "\n");
    return result;
  }

 private:
  bool MayIssue() const {
    if (!gave_up_.empty()) return false;
    if (shape_.num_requests > 0 && issued_ >= shape_.num_requests) return false;
    return Clock::now() < deadline_;
  }

  void Issue() {
    PlannedRequest planned = workload_->Make(issued_++);
    CallSpec spec = base_;
    spec.body = std::move(planned.body);
    ++in_flight_;
    StartStreamingCall(&io_, spec, [this](RequestRecord r) { OnDone(std::move(r)); });
  }

  void OnDone(RequestRecord r) {
    --in_flight_;
    last_done_ = Clock::now();
    consecutive_refusals_ = r.error == "connect" ? consecutive_refusals_ + 1 : 0;
    if (consecutive_refusals_ >= options_.max_consecutive_refusals && gave_up_.empty()) {
      gave_up_ = fmt::format("{} connections in a row failed ({}) after {} requests; the server stopped answering",
                             consecutive_refusals_, r.error_detail, records_.size() + 1);
    }
    records_.push_back(std::move(r));
    if (shape_.concurrency > 0 && MayIssue()) Issue();
    MaybeStop();
  }

  void ScheduleArrival() {
    if (!MayIssue()) return MaybeStop();
    const double gap_s = std::exponential_distribution<double>(shape_.rate)(rng_);
    arrivals_.expires_after(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(gap_s)));
    arrivals_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      if (!MayIssue()) return MaybeStop();
      if (in_flight_ >= options_.max_in_flight) {
        RequestRecord r;
        r.start_s = std::chrono::duration<double>(Clock::now() - base_.run_start).count();
        r.error = "client_overload";
        ++issued_;
        records_.push_back(r);
      } else {
        Issue();
      }
      ScheduleArrival();
    });
  }

  void MaybeStop() {
    if (in_flight_ == 0 && !MayIssue()) {
      done_ = true;
      arrivals_.cancel();
      ticker_.cancel();
    }
  }

  void Tick() {
    PrintProgress();
    if (done_) return;
    ticker_.expires_after(std::chrono::milliseconds(250));
    ticker_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return PrintProgress();
      Tick();
    });
  }

  void PrintProgress() {
    int64_t errors = 0, tokens = 0;
    for (const RequestRecord& r : records_) {
      errors += r.ok() ? 0 : 1;
      tokens += r.output_tokens;
    }
    const double elapsed = std::chrono::duration<double>(Clock::now() - base_.run_start).count();
    double fraction = 0;
    if (shape_.num_requests > 0) fraction = static_cast<double>(records_.size()) / static_cast<double>(shape_.num_requests);
    if (shape_.duration_s > 0) fraction = std::max(fraction, std::min(1.0, elapsed / shape_.duration_s));
    const int width = 30, filled = static_cast<int>(fraction * width);
    std::fprintf(stderr, "\r[%s%s] %3.0f%% | %zu done, %lld in flight, %lld errors | %.0f out tok/s | %.1f s  ",
                 std::string(static_cast<size_t>(filled), '#').c_str(),
                 std::string(static_cast<size_t>(width - filled), '.').c_str(), fraction * 100, records_.size(),
                 static_cast<long long>(in_flight_), static_cast<long long>(errors),
                 elapsed > 0 ? static_cast<double>(tokens) / elapsed : 0.0, elapsed);
  }

  net::io_context io_{1};
  RunnerOptions options_;
  LoadShape shape_;
  Workload* workload_;
  CallSpec base_;
  net::steady_timer arrivals_;
  net::steady_timer ticker_;
  std::mt19937_64 rng_;
  Clock::time_point deadline_;
  Clock::time_point last_done_{};
  int64_t issued_ = 0;
  int64_t in_flight_ = 0;
  int consecutive_refusals_ = 0;
  std::string gave_up_;
  bool done_ = false;
  std::vector<RequestRecord> records_;
};

// One GET of the models route before the run: any HTTP answer (even 404 or
// 401) shows a server is there; a refused or silent connection is reported
// once, instead of as thousands of failed requests.
Status ProbeServer(const RunnerOptions& options, const CallSpec& base) {
  net::io_context io;
  beast::tcp_stream stream(io);
  beast::error_code ec;
  bool answered = false;
  stream.expires_after(options.probe_timeout);
  stream.async_connect(base.endpoints, [&](beast::error_code e, const auto&) {
    ec = e;
    if (e) return;
    auto req = std::make_shared<http::request<http::empty_body>>(http::verb::get, options.target.base_path + "/v1/models", 11);
    req->set(http::field::host, base.host_header);
    if (!base.api_key.empty()) req->set(http::field::authorization, "Bearer " + base.api_key);
    http::async_write(stream, *req, [&, req](beast::error_code we, size_t) {
      ec = we;
      if (we) return;
      auto buffer = std::make_shared<beast::flat_buffer>();
      auto parser = std::make_shared<http::response_parser<http::empty_body>>();
      parser->skip(true);  // the status line and headers are answer enough
      http::async_read_header(stream, *buffer, *parser, [&, buffer, parser](beast::error_code re, size_t) {
        ec = re;
        answered = !re;
      });
    });
  });
  io.run();
  if (answered) return Status::Ok();
  return UnavailableError(fmt::format("{} does not answer: {} (is the server running?)", options.target.Url(),
                                      ec ? ec.message() : "no response"));
}

}  // namespace

StatusOr<RunResult> RunLoad(const RunnerOptions& options, const LoadShape& shape, Workload* workload) {
  if ((shape.concurrency > 0) == (shape.rate > 0)) {
    return InvalidArgumentError("give exactly one of --concurrency or --rate");
  }
  if (shape.num_requests <= 0 && shape.duration_s <= 0) {
    return InvalidArgumentError("give --num-requests and/or --duration so the run ends");
  }
  net::io_context resolver_io;
  net::ip::tcp::resolver resolver(resolver_io);
  boost::system::error_code ec;
  CallSpec base;
  base.endpoints = resolver.resolve(options.target.host, std::to_string(options.target.port), ec);
  if (ec) return UnavailableError(fmt::format("cannot resolve {}: {}", options.target.host, ec.message()));
  base.host_header = fmt::format("{}:{}", options.target.host, options.target.port);
  base.target = options.target.base_path + (workload->config().chat ? "/v1/chat/completions" : "/v1/completions");
  base.api_key = workload->config().api_key;
  base.timeout = std::chrono::milliseconds(static_cast<int64_t>(shape.request_timeout_s * 1000));
  TF_RETURN_IF_ERROR(ProbeServer(options, base));
  Driver driver(options, shape, workload, base);
  RunResult result = driver.Run();
  if (!driver.gave_up().empty()) {
    return UnavailableError(fmt::format("{}: {}", options.target.Url(), driver.gave_up()));
  }
  return result;
}

}  // namespace tf
