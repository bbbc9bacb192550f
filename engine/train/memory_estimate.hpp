#pragma once
// What a training job will allocate, estimated before it allocates anything, so a job that
// cannot fit (a units count with three zeros too many, a batch of 60,000 through a wide layer)
// is refused at once with the figures instead of ending in std::bad_alloc after minutes.

#include <cstdint>
#include <string>

#include "engine/config/experiment.hpp"
#include "engine/train/session.hpp"

namespace loom {

struct MemoryEstimate {
  int64_t parameters = 0;       // every parameter's weights
  int64_t optimizer_state = 0;  // the optimizer's slots for the trainable ones
  int64_t activations = 0;      // the plans' arenas and input buffers (training and evaluation)
  int64_t data = 0;             // the datasets as read (uint8), and validation_split's copy
  int64_t checkpoint = 0;       // the buffers a checkpoint is assembled in while it is written
  int64_t total() const { return parameters + optimizer_state + activations + data + checkpoint; }
};

// From the graphs, their memory plans and the data files' headers alone: allocates nothing
// large. `rank` of `ranks` shares each batch and evaluated set out as the trainer does. The
// graphs are the session's, built once and kept for the plans. Bad data headers throw
// InputError.
MemoryEstimate estimate_training_memory(Session& session, int rank = 0, int ranks = 1);
// The same for one process, with a session of its own.
MemoryEstimate estimate_training_memory(const Experiment& experiment);

// Throws InputError naming the config file, the estimate's parts and the memory available
// when the estimate exceeds `available` bytes.
void expect_fits_in_memory(const Experiment& experiment, const MemoryEstimate& estimate,
                           int64_t available);

}  // namespace loom
