#pragma once
// A training callback: an object with its own state that watches the epochs (as Keras's
// callbacks do), may stop training, and keeps its state in checkpoints so that a resumed run
// decides exactly as the uninterrupted one would.

#include <functional>
#include <string>

#include "engine/optim/schedule.hpp"
#include "engine/train/checkpoint.hpp"

namespace loom {

class Callback {
 public:
  virtual ~Callback() = default;

  // After an epoch, with its values by name ("loss", "val_accuracy", ...): true asks
  // training to stop.
  virtual bool on_epoch_end(const EpochMetrics& values) = 0;
  // Training stops early, before the last checkpoint is written.
  virtual void on_stop() {}
  // Training goes on to the next epoch; `save(name)` writes a checkpoint of its start into
  // the run directory (nothing without one).
  virtual void before_next_epoch(const std::function<void(const std::string&)>& /*save*/) {}

  virtual void write_state(CheckpointWriter& writer) const = 0;
  // Checks this callback's state in a checkpoint and returns what installs it, which the
  // reader calls once every field of the checkpoint has been checked.
  virtual std::function<void()> read_state(const CheckpointReader& reader) = 0;
};

}  // namespace loom
