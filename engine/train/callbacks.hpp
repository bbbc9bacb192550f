#pragma once
// The built-in callbacks. Each watches one monitored value with Keras's rule: an epoch
// improves on the best so far by more than min_delta, in the monitor's direction.
// (reduce_lr_on_plateau is a learning-rate schedule: engine/optim/schedule.hpp.)

#include <optional>
#include <string>
#include <vector>

#include "engine/config/experiment.hpp"
#include "engine/exec/parameter_store.hpp"
#include "engine/train/callback.hpp"

namespace loom {

// The best value of a monitored metric so far, and the epochs waited since it.
struct Watch {
  double best = 0;
  bool has_best = false;
  int64_t wait = 0;

  bool improves(const MonitorSpec& monitor, double value, double min_delta) const;
};

// Keras's EarlyStopping: stops when the monitored value has not improved for `patience`
// epochs; with restore_best_weights, the weights of the best epoch are put back. Without a
// spec it never stops, and still keeps its (empty) state in checkpoints, whose format has it.
class EarlyStopping : public Callback {
 public:
  EarlyStopping(std::optional<EarlyStoppingSpec> spec, ParameterStore& parameters,
                std::vector<std::string> trainable);

  bool on_epoch_end(const EpochMetrics& values) override;
  void on_stop() override;
  void write_state(CheckpointWriter& writer) const override;
  std::function<void()> read_state(const CheckpointReader& reader) override;

 private:
  std::optional<EarlyStoppingSpec> spec_;
  ParameterStore& parameters_;
  std::vector<std::string> trainable_;  // the parameters whose best weights are kept
  Watch watch_;
  std::vector<std::vector<float>> best_weights_;  // restore_best_weights, in trainable_ order
};

// best.safetensors: a checkpoint of every epoch whose monitored value is the best so far.
class BestCheckpoint : public Callback {
 public:
  explicit BestCheckpoint(MonitorSpec monitor) : monitor_(std::move(monitor)) {}

  bool on_epoch_end(const EpochMetrics& values) override;
  void before_next_epoch(const std::function<void(const std::string&)>& save) override;
  void write_state(CheckpointWriter& writer) const override;
  std::function<void()> read_state(const CheckpointReader& reader) override;

 private:
  MonitorSpec monitor_;
  Watch watch_;
  bool improved_ = false;  // by the epoch just ended
};

}  // namespace loom
