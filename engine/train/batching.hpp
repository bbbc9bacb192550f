#pragma once
// How a pass over a data set cuts into batches, computed once: full batches of `batch`
// samples and a last partial one (the tail). Training, evaluation, prediction, the memory
// estimate and the checkpoint's position checks all read these values, so the rule
// "min(batch, samples), then whatever is left" is written here alone.

#include <cstdint>

namespace loom {

struct BatchSplit {
  int64_t batch = 0;  // samples in a full batch: the requested size, at most every sample
  int64_t tail = 0;   // samples in the last partial batch; 0 when `batch` divides the pass
  int64_t steps = 0;  // batches in the pass, the tail included

  static BatchSplit of(int64_t requested, int64_t samples);
  // The size of batch `step` (0-based) of the pass.
  int64_t size_of(int64_t step) const { return tail > 0 && step + 1 == steps ? tail : batch; }
};

// The training set's batches under data parallelism: every global batch is shared out over
// the ranks (shard_of), so each rank's plans are for its own share of a full batch and of
// the tail (which may leave a rank fewer samples, or none).
struct TrainingBatches {
  BatchSplit global;
  int64_t local = 0;       // this rank's share of a full batch
  int64_t local_tail = 0;  // this rank's share of the tail

  static TrainingBatches of(int64_t requested, int64_t samples, int rank, int ranks);
};

}  // namespace loom
