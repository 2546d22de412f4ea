#include "base/histogram.h"

#include <fmt/format.h>

#include "base/check.h"

namespace tf {

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::Observe(double value) {
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += value;
  ++count_;
}

Histogram& Histogram::operator+=(const Histogram& other) {
  TF_CHECK(bounds_ == other.bounds_) << "adding histograms with different bounds";
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  sum_ += other.sum_;
  count_ += other.count_;
  return *this;
}

void Histogram::Render(const std::string& name, const std::string& help, std::string* out) const {
  *out += fmt::format("# HELP tokenfab_{} {}\n# TYPE tokenfab_{} histogram\n", name, help, name);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    *out += fmt::format("tokenfab_{}_bucket{{le=\"{}\"}} {}\n", name, bounds_[i], cumulative);
  }
  cumulative += counts_.back();
  *out += fmt::format("tokenfab_{}_bucket{{le=\"+Inf\"}} {}\n", name, cumulative);
  *out += fmt::format("tokenfab_{}_sum {}\ntokenfab_{}_count {}\n", name, sum_, name, count_);
}

}  // namespace tf
