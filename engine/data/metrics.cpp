#include "engine/data/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "engine/core/error.hpp"
#include "engine/core/named_table.hpp"
#include "engine/data/mean_metric.hpp"
#include "engine/data/threshold_metrics.hpp"

namespace loom {

int64_t PredictionBatch::label(int64_t r) const {
  if (encoding == LabelEncoding::index) return static_cast<const int32_t*>(labels)[r];
  const float* target_row = static_cast<const float*>(labels) + r * width;
  return std::max_element(target_row, target_row + width) - target_row;
}

float PredictionBatch::probability(int64_t r, int64_t c) const {
  const float output = predictions[r * width + c];
  return logits ? 1.f / (1.f + std::exp(-output)) : output;
}

namespace {

class Accuracy final : public MeanMetric {
 public:
  Accuracy() : MeanMetric("accuracy") {}
  void update(const PredictionBatch& batch) override {
    int64_t correct = 0;
    for (int64_t r = 0; r < batch.size; ++r) {
      const float* row = batch.row(r);
      correct += std::max_element(row, row + batch.width) - row == batch.label(r);
    }
    add(double(correct), batch.size);
  }
};

// Keras's BinaryAccuracy: every output, thresholded, against its 0/1 target.
class BinaryAccuracy final : public MeanMetric {
 public:
  BinaryAccuracy(std::string name, double threshold)
      : MeanMetric(std::move(name)), threshold_(float(threshold)) {}
  void update(const PredictionBatch& batch) override {
    int64_t correct = 0;
    for (int64_t r = 0; r < batch.size; ++r) {
      for (int64_t c = 0; c < batch.width; ++c) {
        correct += (batch.probability(r, c) > threshold_) == (batch.target(r, c) > 0.5f);
      }
    }
    add(double(correct), batch.size * batch.width);
  }

 private:
  float threshold_;
};

// The label is in the top k when fewer than k classes score strictly higher.
class TopKAccuracy final : public MeanMetric {
 public:
  explicit TopKAccuracy(int64_t k) : MeanMetric("top_" + std::to_string(k) + "_accuracy"), k_(k) {}
  void update(const PredictionBatch& batch) override {
    int64_t hits = 0;
    for (int64_t r = 0; r < batch.size; ++r) {
      const float* row = batch.row(r);
      const float target = row[batch.label(r)];
      const auto higher =
          std::count_if(row, row + batch.width, [&](float p) { return p > target; });
      hits += higher < k_;
    }
    add(double(hits), batch.size);
  }

 private:
  int64_t k_;
};

// The mean over every output of |output - target|^power (mse: 2, mae: 1).
class MeanError final : public MeanMetric {
 public:
  MeanError(std::string name, int power) : MeanMetric(std::move(name)), power_(power) {}
  bool scores_are_hits() const override { return false; }
  void update(const PredictionBatch& batch) override {
    double total = 0;
    for (int64_t r = 0; r < batch.size; ++r) {
      const float* row = batch.row(r);
      for (int64_t c = 0; c < batch.width; ++c) {
        const double error = std::abs(double(row[c]) - double(batch.target(r, c)));
        total += power_ == 2 ? error * error : error;
      }
    }
    add(total, batch.size * batch.width);
  }

 private:
  int power_;
};

OptionSchema threshold_option() {
  return {real_option("threshold", 0.5, between(0.0, 1.0),
                      "outputs above it count as the positive class")};
}

}  // namespace

const std::vector<MetricDefinition>& metric_definitions() {
  static const std::vector<MetricDefinition> table = {
      {.name = "accuracy",
       .create = [](const Attributes&, const MetricContext& context) -> std::unique_ptr<Metric> {
         if (context.binary) return std::make_unique<BinaryAccuracy>("accuracy", 0.5);
         return std::make_unique<Accuracy>();
       }},
      {.name = "auc",
       .options = {integer_option("num_thresholds", 200, between(2, 100000),
                                  "thresholds the ROC curve is computed at")},
       .create =
           [](const Attributes& options, const MetricContext&) {
             return make_roc_auc(options.integer("num_thresholds"));
           }},
      {.name = "binary_accuracy",
       .options = threshold_option(),
       .create =
           [](const Attributes& options, const MetricContext&) {
             return std::make_unique<BinaryAccuracy>("binary_accuracy", options.real("threshold"));
           }},
      {.name = "mae",
       .create = [](const Attributes&,
                    const MetricContext&) { return std::make_unique<MeanError>("mae", 1); }},
      {.name = "mse",
       .create = [](const Attributes&,
                    const MetricContext&) { return std::make_unique<MeanError>("mse", 2); }},
      {.name = "precision",
       .options = threshold_option(),
       .create = [](const Attributes& options,
                    const MetricContext&) { return make_precision(options.real("threshold")); }},
      {.name = "recall",
       .options = threshold_option(),
       .create = [](const Attributes& options,
                    const MetricContext&) { return make_recall(options.real("threshold")); }},
      {.name = "top_k_accuracy",
       .options = {integer_option("k", 5, at_least(1), "how many of the largest predictions")},
       .create =
           [](const Attributes& options, const MetricContext&) {
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

std::optional<int64_t> top_k_of(const std::string& name) {
  constexpr std::string_view kPrefix = "top_", kSuffix = "_accuracy";
  if (!name.starts_with(kPrefix) || !name.ends_with(kSuffix)) return std::nullopt;
  const std::string_view digits(name.data() + kPrefix.size(),
                                name.size() - kPrefix.size() - kSuffix.size());
  int64_t k = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), k);
  if (digits.empty() || error != std::errc() || end != digits.data() + digits.size() || k < 1) {
    return std::nullopt;
  }
  return k;
}

std::string metric_display_name(const MetricSpec& spec) {
  if (spec.name != "top_k_accuracy") return spec.name;
  const int64_t k = spec.options.has("k") ? spec.options.integer("k") : 5;
  return "top_" + std::to_string(k) + "_accuracy";
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

std::vector<std::unique_ptr<Metric>> make_metrics(const std::vector<MetricSpec>& specs,
                                                  const MetricContext& context) {
  std::vector<std::unique_ptr<Metric>> metrics;
  for (const MetricSpec& spec : specs) {
    const MetricDefinition* definition = find_metric(spec.name);
    if (!definition) throw RuntimeError("no implementation for metric '" + spec.name + "'");
    metrics.push_back(definition->create(
        with_defaults(definition->options, spec.options, "metric '" + spec.name + "'"), context));
  }
  return metrics;
}

}  // namespace loom
