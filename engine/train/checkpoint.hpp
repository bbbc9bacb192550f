#pragma once
// The trainer's checkpoints (format "loom-checkpoint-1"): the weights, the optimizer's slots
// and scalars, where the run is (epoch, step, the epoch's sample order, the shuffle
// generator, running sums, the history) and each callback's own state, in safetensors
// (engine/train/safetensors.*: the format, the checksum, atomic replacement). Reading checks
// every field against the run it is resumed into before anything changes, so an edited or
// damaged position is refused with one line instead of crashing or training forever.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/config/experiment.hpp"
#include "engine/core/random.hpp"
#include "engine/exec/parameter_store.hpp"
#include "engine/optim/optimizer.hpp"
#include "engine/train/checkpoint_fields.hpp"
#include "engine/train/metric_set.hpp"
#include "engine/train/progress.hpp"
#include "engine/train/safetensors.hpp"

namespace loom {

class Callback;

// Where a run is: the epoch (1-based; epochs + 1 once every epoch is done) and the steps of
// it already taken. A checkpoint records the position a resumed run starts at.
struct RunPosition {
  int64_t epoch = 1;
  int64_t step_in_epoch = 0;
};

// The training loop's own progress, all of which goes into checkpoints.
struct RunState {
  explicit RunState(uint64_t shuffle_seed) : shuffle_random(shuffle_seed) {}
  RunPosition position;
  double loss_sum = 0;  // this epoch's, over the global batches so far
  int64_t seen = 0;     // samples of this epoch so far
  Random shuffle_random;
  std::vector<uint32_t> order;  // this epoch's sample order
  std::vector<EpochRecord> history;
};

// What a checkpoint is made of besides the RunState, borrowed from the trainer.
struct CheckpointParts {
  const Experiment& experiment;
  ParameterStore& parameters;
  Optimizer& optimizer;
  MetricSet& metrics;
  std::span<Callback* const> callbacks;
  const std::vector<std::string>& class_names;  // the training set's (may be empty)
  float input_scale = 1.f;      // what the training set's features were multiplied by (data.scale)
  bool has_validation = false;  // the history's columns
  bool has_test = false;
};

// A callback's share of a checkpoint being written: tensors (whose bytes must live until the
// write) and metadata entries.
struct CheckpointWriter {
  std::vector<TensorBytes> tensors;
  std::map<std::string, std::string> metadata;
};

// A checkpoint being read, for a callback to check and take its state from.
struct CheckpointReader {
  const SafetensorsFile& file;
  const CheckpointFields& fields;
  RunPosition position;  // already checked
};

// Writes a checkpoint that resumes at `position` with `metric_states` as the running sums.
void write_checkpoint(const std::filesystem::path& file, const CheckpointParts& parts,
                      const RunState& state, RunPosition position,
                      const MetricSet::States& metric_states);

// Checks every field of `file` against the run, then restores it into `state` and the parts.
// `carries_metric_sums`: this process continues the checkpoint's metric sums (under data
// parallelism they are every rank's together: one rank carries them on, the others start
// at 0).
void read_checkpoint(const std::filesystem::path& file, const CheckpointParts& parts,
                     RunState& state, bool carries_metric_sums);

// Every parameter's weights from `file` ("weights/<name>"), each checked finite before any
// is copied: a refused file leaves the weights as they were.
void load_weights_from(const SafetensorsFile& file, ParameterStore& parameters);
// The class names a checkpoint records (none: empty; older checkpoints record none).
std::vector<std::string> class_names_from(const SafetensorsFile& file);
// The scale a checkpoint's training set was read with; nothing in checkpoints from before it
// was recorded.
std::optional<double> input_scale_from(const SafetensorsFile& file);

}  // namespace loom
