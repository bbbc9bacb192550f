#include "engine/train/batching.hpp"

#include <algorithm>

#include "engine/dist/communicator.hpp"

namespace loom {

BatchSplit BatchSplit::of(int64_t requested, int64_t samples) {
  BatchSplit split;
  if (samples <= 0 || requested <= 0) return split;
  split.batch = std::min(requested, samples);
  split.tail = samples % split.batch;
  split.steps = (samples + split.batch - 1) / split.batch;
  return split;
}

TrainingBatches TrainingBatches::of(int64_t requested, int64_t samples, int rank, int ranks) {
  TrainingBatches batches{.global = BatchSplit::of(requested, samples)};
  batches.local = batches.global.batch / ranks;
  batches.local_tail = shard_of(batches.global.tail, rank, ranks).size();
  return batches;
}

}  // namespace loom
