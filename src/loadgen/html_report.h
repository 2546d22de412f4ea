// A self-contained HTML report (one file, no network): throughput, TTFT and
// TPOT percentiles against load, latency CDFs and tokens/s over time, drawn
// as SVG by a small inline script from the embedded results.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tf {

// `report` is the object `--json` writes (config, runs with summaries and
// per-request records).
std::string RenderHtmlReport(const nlohmann::json& report);

}  // namespace tf
