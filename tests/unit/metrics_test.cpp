// The metrics against values worked out by hand (and sklearn's for the ROC AUC) on batches
// made here: class indices and target rows, binary thresholds, logits, top-k naming, and the
// running state across batches.

#include "engine/data/metrics.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

namespace loom {
namespace {

std::unique_ptr<Metric> make(const std::string& name, const MetricContext& context = {},
                             Attributes options = {}) {
  auto metrics = make_metrics({{.name = name, .options = std::move(options)}}, context);
  return std::move(metrics.front());
}

PredictionBatch rows(const std::vector<float>& outputs, const std::vector<float>& targets,
                     int64_t width) {
  return {.predictions = outputs.data(),
          .size = std::ssize(outputs) / width,
          .width = width,
          .encoding = LabelEncoding::dense,
          .labels = targets.data()};
}

TEST(Metrics, AccuracyFromClassIndicesAndFromTargetRows) {
  const std::vector<float> outputs = {0.7f, 0.2f, 0.1f, 0.1f, 0.3f, 0.6f};
  const std::vector<int32_t> indices = {0, 1};
  auto accuracy = make("accuracy");
  accuracy->update({.predictions = outputs.data(),
                    .size = 2,
                    .width = 3,
                    .encoding = LabelEncoding::index,
                    .labels = indices.data()});
  EXPECT_DOUBLE_EQ(accuracy->result(), 0.5);
  const std::vector<float> one_hot = {1, 0, 0, 0, 0, 1};
  accuracy->reset();
  accuracy->update(rows(outputs, one_hot, 3));
  EXPECT_DOUBLE_EQ(accuracy->result(), 1.0);
}

TEST(Metrics, AccuracyIsBinaryForABinaryLossAndThresholdsLogitsAtZero) {
  const std::vector<float> probabilities = {0.9f, 0.4f, 0.6f, 0.2f};
  const std::vector<float> targets = {1, 0, 0, 0};
  auto accuracy = make("accuracy", {.binary = true});
  accuracy->update(rows(probabilities, targets, 1));
  EXPECT_DOUBLE_EQ(accuracy->result(), 0.75);
  // Logits: -0.1 is below 0 (a probability below 0.5).
  const std::vector<float> logits = {2.f, -0.1f, 0.3f, -3.f};
  auto from_logits = make("binary_accuracy", {.binary = true, .logits = true});
  PredictionBatch batch = rows(logits, targets, 1);
  batch.logits = true;
  from_logits->update(batch);
  EXPECT_DOUBLE_EQ(from_logits->result(), 0.75);
}

TEST(Metrics, MaeAndMseOverEveryOutput) {
  const std::vector<float> outputs = {1, 2, 3, 5};
  const std::vector<float> targets = {1, 4, 0, 5};
  auto mae = make("mae"), mse = make("mse");
  mae->update(rows(outputs, targets, 2));
  mse->update(rows(outputs, targets, 2));
  EXPECT_DOUBLE_EQ(mae->result(), (0 + 2 + 3 + 0) / 4.0);
  EXPECT_DOUBLE_EQ(mse->result(), (0 + 4 + 9 + 0) / 4.0);
}

TEST(Metrics, PrecisionAndRecallCountEveryOutputAcrossBatches) {
  // Multi-label rows of two outputs: TP 2, FP 1, FN 1 over the two batches.
  const std::vector<float> first = {0.9f, 0.8f}, first_targets = {1, 0};
  const std::vector<float> second = {0.7f, 0.1f}, second_targets = {1, 1};
  auto precision = make("precision"), recall = make("recall");
  for (auto* metric : {precision.get(), recall.get()}) {
    metric->update(rows(first, first_targets, 2));
    metric->update(rows(second, second_targets, 2));
  }
  EXPECT_DOUBLE_EQ(precision->result(), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(recall->result(), 2.0 / 3.0);
}

TEST(Metrics, RocAucMatchesTheExactAreaWhenThresholdsSeparateTheScores) {
  // sklearn.metrics.roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75.
  const std::vector<float> scores = {0.1f, 0.4f, 0.35f, 0.8f};
  const std::vector<float> targets = {0, 0, 1, 1};
  auto auc = make("auc");
  auc->update(rows(scores, targets, 1));
  EXPECT_NEAR(auc->result(), 0.75, 1e-9);
  // Perfect separation is 1, reversed scores 0; its state survives a checkpoint.
  const std::vector<float> perfect = {0.1f, 0.2f, 0.8f, 0.9f};
  auc->reset();
  auc->update(rows(perfect, targets, 1));
  EXPECT_NEAR(auc->result(), 1.0, 1e-9);
  auto restored = make("auc");
  restored->restore(auc->state());
  EXPECT_NEAR(restored->result(), 1.0, 1e-9);
  EXPECT_EQ(restored->state_problem(auc->state()), "");
}

TEST(Metrics, TopKIsNamedByItsK) {
  Attributes three;
  three.set("k", int64_t{3});
  EXPECT_EQ(make("top_k_accuracy", {}, three)->name(), "top_3_accuracy");
  EXPECT_EQ(metric_display_name({.name = "top_k_accuracy"}), "top_5_accuracy");
  EXPECT_EQ(top_k_of("top_3_accuracy"), 3);
  EXPECT_EQ(top_k_of("top_x_accuracy"), std::nullopt);
  EXPECT_EQ(top_k_of("top_0_accuracy"), std::nullopt);
}

}  // namespace
}  // namespace loom
