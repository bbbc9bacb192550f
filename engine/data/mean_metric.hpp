#pragma once
// A metric that is a running mean of per-sample or per-element scores: its state is
// [total, count], summed across ranks and saved in checkpoints.

#include <cmath>
#include <string>

#include "engine/data/metrics.hpp"

namespace loom {

class MeanMetric : public Metric {
 public:
  explicit MeanMetric(std::string name) : name_(std::move(name)) {}
  const std::string& name() const override { return name_; }
  void reset() override { total_ = 0, count_ = 0; }
  double result() const override { return count_ > 0 ? total_ / double(count_) : 0.0; }
  std::vector<double> state() const override { return {total_, double(count_)}; }
  void restore(std::span<const double> state) override {
    total_ = state[0];
    count_ = int64_t(state[1]);
  }
  // [total, count]: a whole count (exact in a double), and a total of non-negative scores
  // (at most one per counted item where scores are hits).
  std::string state_problem(std::span<const double> state) const override {
    const double count = state[1], total = state[0];
    const bool valid = count >= 0 && count <= 0x1p53 && count == std::floor(count) && total >= 0 &&
                       (!scores_are_hits() || total <= count);
    if (valid) return "";
    return std::string("[total, count] with a whole count from 0 to 2^53 and 0 <= total") +
           (scores_are_hits() ? " <= count" : "");
  }

 protected:
  virtual bool scores_are_hits() const { return true; }
  void add(double value, int64_t count) {
    total_ += value;
    count_ += count;
  }

 private:
  std::string name_;
  double total_ = 0;
  int64_t count_ = 0;
};

}  // namespace loom
