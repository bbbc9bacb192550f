#include "engine/train/evaluation.hpp"

#include <algorithm>
#include <cmath>

namespace loom {

Evaluation evaluate(Session& session, MetricSet& metrics, const Dataset& dataset,
                    Communicator& communicator) {
  const int64_t classes = session.classes();
  Evaluation evaluation;
  evaluation.confusion.assign(size_t(classes * classes), 0);
  double loss_sum = 0;
  metrics.reset();
  const Shard part = shard_of(dataset.size(), communicator.rank(), communicator.size());
  session.infer(dataset, part, [&](const InferenceBatch& batch) {
    const auto size = std::ssize(batch.indices);
    loss_sum += batch.loss * double(size);
    metrics.update({batch.predictions, size, classes, batch.indices, dataset.labels()});
    for (int64_t r = 0; r < size; ++r) {
      const float* row = batch.predictions + r * classes;
      const auto predicted = std::max_element(row, row + classes) - row;
      ++evaluation
            .confusion[size_t(dataset.labels()[batch.indices[size_t(r)]] * classes + predicted)];
    }
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
