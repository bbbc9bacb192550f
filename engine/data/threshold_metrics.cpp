#include "engine/data/threshold_metrics.hpp"

#include <algorithm>
#include <cmath>

namespace loom {

namespace {

// Counts kept as doubles (exact to 2^53) so that ranks sum them and checkpoints hold them.
bool whole_counts(std::span<const double> state) {
  return std::ranges::all_of(state,
                             [](double v) { return v >= 0 && v <= 0x1p53 && v == std::floor(v); });
}

// Precision or recall: [true positives, the other count in the denominator].
class PositiveRate final : public Metric {
 public:
  enum class Kind { precision, recall };
  PositiveRate(Kind kind, double threshold)
      : name_(kind == Kind::precision ? "precision" : "recall"),
        kind_(kind),
        threshold_(float(threshold)) {}
  const std::string& name() const override { return name_; }
  void reset() override { true_positives_ = other_ = 0; }
  void update(const PredictionBatch& batch) override {
    for (int64_t r = 0; r < batch.size; ++r) {
      for (int64_t c = 0; c < batch.width; ++c) {
        const bool predicted = batch.probability(r, c) > threshold_;
        const bool actual = batch.target(r, c) > 0.5f;
        true_positives_ += predicted && actual;
        other_ += kind_ == Kind::precision ? predicted && !actual : !predicted && actual;
      }
    }
  }
  double result() const override {
    const double denominator = true_positives_ + other_;
    return denominator > 0 ? true_positives_ / denominator : 0.0;
  }
  std::vector<double> state() const override { return {true_positives_, other_}; }
  void restore(std::span<const double> state) override {
    true_positives_ = state[0];
    other_ = state[1];
  }
  std::string state_problem(std::span<const double> state) const override {
    return whole_counts(state) ? "" : "two whole counts from 0 to 2^53";
  }

 private:
  std::string name_;
  Kind kind_;
  float threshold_;
  double true_positives_ = 0, other_ = 0;
};

// Positives and negatives counted per bucket between consecutive thresholds: the true and
// false positives at threshold i are the counts in the buckets above it.
class RocAuc final : public Metric {
 public:
  explicit RocAuc(int64_t num_thresholds) : thresholds_(size_t(num_thresholds)) {
    const auto n = double(num_thresholds);
    for (size_t i = 0; i < thresholds_.size(); ++i) thresholds_[i] = float(double(i) / (n - 1));
    thresholds_.front() = -1e-7f;
    thresholds_.back() = 1.f + 1e-7f;
    counts_.assign(2 * (thresholds_.size() + 1), 0.0);
  }
  const std::string& name() const override { return name_; }
  void reset() override { std::ranges::fill(counts_, 0.0); }
  void update(const PredictionBatch& batch) override {
    const size_t buckets = thresholds_.size() + 1;
    for (int64_t r = 0; r < batch.size; ++r) {
      for (int64_t c = 0; c < batch.width; ++c) {
        const float p = batch.probability(r, c);
        // The number of thresholds strictly below p.
        const auto bucket = size_t(std::lower_bound(thresholds_.begin(), thresholds_.end(), p) -
                                   thresholds_.begin());
        counts_[(batch.target(r, c) > 0.5f ? 0 : buckets) + bucket] += 1;
      }
    }
  }
  double result() const override {
    const size_t buckets = thresholds_.size() + 1;
    const double* positives = counts_.data();
    const double* negatives = counts_.data() + buckets;
    double all_positive = 0, all_negative = 0;
    for (size_t b = 0; b < buckets; ++b) all_positive += positives[b], all_negative += negatives[b];
    if (all_positive == 0 || all_negative == 0) return 0.0;
    // Walk the thresholds upwards: TP and FP fall from the totals as buckets drop out.
    double tp = all_positive - positives[0], fp = all_negative - negatives[0], area = 0;
    for (size_t i = 1; i < thresholds_.size(); ++i) {
      const double next_tp = tp - positives[i], next_fp = fp - negatives[i];
      area += (fp - next_fp) / all_negative * (tp + next_tp) / (2 * all_positive);
      tp = next_tp, fp = next_fp;
    }
    return area;
  }
  std::vector<double> state() const override { return counts_; }
  void restore(std::span<const double> state) override {
    counts_.assign(state.begin(), state.end());
  }
  std::string state_problem(std::span<const double> state) const override {
    return whole_counts(state) ? "" : "whole counts from 0 to 2^53";
  }

 private:
  std::string name_ = "auc";
  std::vector<float> thresholds_;
  std::vector<double> counts_;  // positives per bucket, then negatives per bucket
};

}  // namespace

std::unique_ptr<Metric> make_precision(double threshold) {
  return std::make_unique<PositiveRate>(PositiveRate::Kind::precision, threshold);
}
std::unique_ptr<Metric> make_recall(double threshold) {
  return std::make_unique<PositiveRate>(PositiveRate::Kind::recall, threshold);
}
std::unique_ptr<Metric> make_roc_auc(int64_t num_thresholds) {
  return std::make_unique<RocAuc>(num_thresholds);
}

}  // namespace loom
