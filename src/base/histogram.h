// A Prometheus histogram: counts per upper bound, their sum and count,
// rendered as tokenfab_<name>_bucket/_sum/_count. Not thread-safe; the
// owner locks (the server's metrics) or snapshots (the engine's stats).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tf {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value);
  // Adds another histogram with the same bounds (a CHECK).
  Histogram& operator+=(const Histogram& other);
  void Render(const std::string& name, const std::string& help, std::string* out) const;
  uint64_t count() const { return count_; }

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket (not cumulative); last is +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

}  // namespace tf
