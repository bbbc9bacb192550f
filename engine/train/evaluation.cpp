#include "engine/train/evaluation.hpp"

#include <algorithm>
#include <cmath>

namespace loom {

namespace {

void add_to_confusion(const PredictionBatch& batch, std::vector<int64_t>& confusion) {
  for (int64_t r = 0; r < batch.size; ++r) {
    const float* row = batch.row(r);
    const auto predicted = std::max_element(row, row + batch.width) - row;
    ++confusion[size_t(batch.label(r) * batch.width + predicted)];
  }
}

}  // namespace

bool has_confusion_matrix(const Experiment& experiment, int64_t units) {
  const TargetFamily family = experiment.trainer.loss.targets;
  return units > 1 && (family == TargetFamily::class_index || family == TargetFamily::categorical);
}

Evaluation evaluate(Session& session, MetricSet& metrics, const Dataset& dataset,
                    Communicator& communicator) {
  const int64_t classes = session.classes();
  Evaluation evaluation;
  const bool classified = has_confusion_matrix(session.experiment(), classes);
  if (classified) evaluation.confusion.assign(size_t(classes * classes), 0);
  double loss_sum = 0;
  metrics.reset();
  const Shard part = shard_of(dataset.size(), communicator.rank(), communicator.size());
  session.infer(dataset, part, [&](const InferenceBatch& batch) {
    const auto size = std::ssize(batch.indices);
    loss_sum += batch.loss * double(size);
    const PredictionBatch predictions{.predictions = batch.predictions,
                                      .size = size,
                                      .width = classes,
                                      .encoding = dataset.format().encoding,
                                      .labels = batch.labels};
    metrics.update(predictions);
    if (classified) add_to_confusion(predictions, evaluation.confusion);
  });
  evaluation.samples = dataset.size();
  // Every rank's shard, summed (nothing to add in one process).
  std::vector<double> sums = {loss_sum};
  sums.insert(sums.end(), evaluation.confusion.begin(), evaluation.confusion.end());
  communicator.sum(sums);
  for (size_t i = 0; i < evaluation.confusion.size(); ++i) {
    evaluation.confusion[i] = std::llround(sums[i + 1]);
  }
  evaluation.metrics = metrics.global_results(communicator);
  evaluation.loss = sums[0] / double(evaluation.samples);
  return evaluation;
}

}  // namespace loom
