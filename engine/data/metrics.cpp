#include "engine/data/metrics.hpp"

#include <algorithm>
#include <cmath>

#include "engine/core/error.hpp"
#include "engine/core/named_table.hpp"

namespace loom {

namespace {

// A running mean of per-sample (or per-element) scores.
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

class Accuracy final : public MeanMetric {
 public:
  Accuracy() : MeanMetric("accuracy") {}
  void update(const PredictionBatch& batch) override {
    int64_t correct = 0;
    for (int64_t r = 0; r < batch.size; ++r) {
      const float* row = batch.row(r);
      correct += std::max_element(row, row + batch.classes) - row == batch.label(r);
    }
    add(double(correct), batch.size);
  }
};

// The label is in the top k when fewer than k classes score strictly higher.
class TopKAccuracy final : public MeanMetric {
 public:
  explicit TopKAccuracy(int64_t k) : MeanMetric("top_k_accuracy"), k_(k) {}
  void update(const PredictionBatch& batch) override {
    int64_t hits = 0;
    for (int64_t r = 0; r < batch.size; ++r) {
      const float* row = batch.row(r);
      const float target = row[batch.label(r)];
      const auto higher =
          std::count_if(row, row + batch.classes, [&](float p) { return p > target; });
      hits += higher < k_;
    }
    add(double(hits), batch.size);
  }

 private:
  int64_t k_;
};

class MeanSquaredError final : public MeanMetric {
 public:
  MeanSquaredError() : MeanMetric("mse") {}
  bool scores_are_hits() const override { return false; }
  void update(const PredictionBatch& batch) override {
    double total = 0;
    for (int64_t r = 0; r < batch.size; ++r) {
      const float* row = batch.row(r);
      const int64_t label = batch.label(r);
      for (int64_t c = 0; c < batch.classes; ++c) {
        const double error = double(row[c]) - (c == label ? 1.0 : 0.0);
        total += error * error;
      }
    }
    add(total, batch.size * batch.classes);
  }
};

}  // namespace

const std::vector<MetricDefinition>& metric_definitions() {
  static const std::vector<MetricDefinition> table = {
      {.name = "accuracy",
       .create = [](const Attributes&) { return std::make_unique<Accuracy>(); }},
      {.name = "mse",
       .create = [](const Attributes&) { return std::make_unique<MeanSquaredError>(); }},
      {.name = "top_k_accuracy",
       .options = {integer_option("k", 5, at_least(1), "how many of the largest predictions")},
       .create =
           [](const Attributes& options) {
             return std::make_unique<TopKAccuracy>(options.integer("k"));
           }},
  };
  return table;
}

const MetricDefinition* find_metric(const std::string& name) {
  return find_named(metric_definitions(), name);
}

std::vector<std::string> metric_names() {
  return names_of(metric_definitions());
}

const std::vector<std::string>& monitorable_metrics() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> metrics = metric_names();
    metrics.push_back("loss");
    std::ranges::sort(metrics);
    std::vector<std::string> result;
    for (const char* prefix : {"", "val_", "test_"}) {
      for (const std::string& metric : metrics) result.push_back(prefix + metric);
    }
    return result;
  }();
  return names;
}

std::vector<std::unique_ptr<Metric>> make_metrics(const std::vector<MetricSpec>& specs) {
  std::vector<std::unique_ptr<Metric>> metrics;
  for (const MetricSpec& spec : specs) {
    const MetricDefinition* definition = find_metric(spec.name);
    if (!definition) throw RuntimeError("no implementation for metric '" + spec.name + "'");
    metrics.push_back(definition->create(
        with_defaults(definition->options, spec.options, "metric '" + spec.name + "'")));
  }
  return metrics;
}

}  // namespace loom
