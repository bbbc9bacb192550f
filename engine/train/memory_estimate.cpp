#include "engine/train/memory_estimate.hpp"

#include <algorithm>

#include "engine/core/error.hpp"
#include "engine/core/memory.hpp"
#include "engine/data/dataset.hpp"
#include "engine/dist/communicator.hpp"
#include "engine/exec/plan.hpp"
#include "engine/optim/optimizer.hpp"
#include "engine/train/batching.hpp"

namespace loom {

namespace {

// The sizes of the training plans the trainer compiles: one per batch size (the full batch
// and a last partial one), each rank's share of it.
int64_t training_plan_bytes(Session& session, int64_t train_samples, int rank, int ranks) {
  const TrainingBatches batches =
      TrainingBatches::of(session.experiment().trainer.batch_size, train_samples, rank, ranks);
  int64_t total = planned_bytes(session.graph(Purpose::training, batches.local));
  if (batches.local_tail > 0 && batches.local_tail != batches.local) {
    total += planned_bytes(session.graph(Purpose::training, batches.local_tail));
  }
  return total;
}

// The evaluation plans for this rank's shard of a data set of `samples`: its batch and its
// last partial batch.
int64_t evaluation_plan_bytes(Session& session, int64_t samples, int rank, int ranks) {
  const BatchSplit split = BatchSplit::of(session.experiment().trainer.batch_size,
                                          shard_of(samples, rank, ranks).size());
  int64_t total = 0;
  if (split.batch > 0) total += planned_bytes(session.graph(Purpose::inference, split.batch));
  if (split.tail > 0) total += planned_bytes(session.graph(Purpose::inference, split.tail));
  return total;
}

}  // namespace

MemoryEstimate estimate_training_memory(const Experiment& experiment) {
  Session session(experiment);
  return estimate_training_memory(session);
}

MemoryEstimate estimate_training_memory(Session& session, int rank, int ranks) {
  const Experiment& experiment = session.experiment();
  MemoryEstimate estimate;
  const Shape& input = experiment.model.input.shape;
  const DataSpec& data = experiment.data;

  SourceSize train = inspect_dataset(data.train, input);
  estimate.data += train.bytes;
  int64_t validation_samples = 0;
  if (data.validation) {
    const SourceSize validation = inspect_dataset(*data.validation, input);
    estimate.data += validation.bytes;
    validation_samples = validation.samples;
  }
  if (data.validation_split > 0) {
    // Both parts are views of the training set's arrays.
    validation_samples = int64_t(double(train.samples) * data.validation_split);
    train.samples -= validation_samples;
  }
  int64_t test_samples = 0;
  if (data.test) {
    const SourceSize test = inspect_dataset(*data.test, input);
    estimate.data += test.bytes;
    test_samples = test.samples;
  }

  const auto optimizer = OptimizerRegistry::global().create(experiment.trainer.optimizer);
  const auto slots = int64_t(optimizer->slot_count());
  // Every graph holds the same parameters: the one loading built will do.
  const Graph& graph = session.graph(Purpose::training, experiment.trainer.batch_size);
  for (const Value& value : graph.values()) {
    if (value.role != ValueRole::parameter) continue;
    estimate.parameters += value.type.bytes();
    if (value.trainable) estimate.optimizer_state += slots * value.type.bytes();
  }

  // Plans are only sized when the batch is one the data allows (the trainer refuses others).
  if (train.samples >= experiment.trainer.batch_size && train.samples > 0) {
    estimate.activations += training_plan_bytes(session, train.samples, rank, ranks);
  }
  for (const int64_t samples : {validation_samples, test_samples}) {
    if (samples > 0) estimate.activations += evaluation_plan_bytes(session, samples, rank, ranks);
  }
  // A checkpoint is assembled whole (the tensors' bytes, then the file's), and with
  // restore_best_weights a copy of the best weights is kept.
  estimate.checkpoint = 2 * (estimate.parameters + estimate.optimizer_state);
  const auto& stopping = experiment.trainer.early_stopping;
  if (stopping && stopping->restore_best_weights) estimate.checkpoint += estimate.parameters;
  return estimate;
}

void expect_fits_in_memory(const Experiment& experiment, const MemoryEstimate& estimate,
                           int64_t available) {
  if (estimate.total() <= available) return;
  throw InputError(experiment.source.string() + ": the model needs about " +
                   format_bytes(estimate.total()) + " (parameters " +
                   format_bytes(estimate.parameters) + ", optimizer state " +
                   format_bytes(estimate.optimizer_state) + ", activations " +
                   format_bytes(estimate.activations) + ", data " + format_bytes(estimate.data) +
                   ", checkpoint buffers " + format_bytes(estimate.checkpoint) +
                   "); this machine has " + format_bytes(available) + " available");
}

}  // namespace loom
