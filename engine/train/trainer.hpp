#pragma once
// The training loop on a Session: a seeded shuffle each epoch, one step per batch, the loss
// and the metrics tracked as Keras does (means weighted by batch size), evaluation of the
// validation and test sets after every epoch (counting every sample), callbacks (early
// stopping, the best checkpoint), and checkpoints from which a run continues exactly.
//
// Data parallel (under mpirun): every rank holds the same weights and takes its shard of
// every global batch; a step hook (DataParallelAveraging) averages the gradients over the
// ranks before every rank applies the same update. Losses, metrics and evaluations are summed
// over the ranks, so every rank sees the same history and takes the same decisions (early
// stopping, learning-rate plateaus); only a trainer given a run directory (rank 0's) writes.

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "engine/config/experiment.hpp"
#include "engine/core/error.hpp"
#include "engine/data/dataset.hpp"
#include "engine/dist/communicator.hpp"
#include "engine/optim/optimizer.hpp"
#include "engine/train/batching.hpp"
#include "engine/train/callback.hpp"
#include "engine/train/checkpoint.hpp"
#include "engine/train/evaluation.hpp"
#include "engine/train/initial_weights.hpp"
#include "engine/train/metric_set.hpp"
#include "engine/train/progress.hpp"
#include "engine/train/session.hpp"
#include "engine/train/step_hook.hpp"
#include "engine/train/thread_tuner.hpp"
#include "engine/train/training_data.hpp"

namespace loom {

enum class FitOutcome { finished, stopped_early, interrupted };

// A NaN or an infinity stopped training (trainer.on_nonfinite: stop). Exit code 1.
class NonFiniteError : public RuntimeError {
 public:
  using RuntimeError::RuntimeError;
};

class Trainer {
 public:
  // Checks the job fits in memory, loads the datasets and compiles the plans; bad data files
  // throw InputError here. With a run directory, fit() keeps history.csv, history.json and
  // the checkpoints there.
  explicit Trainer(Experiment experiment, std::optional<std::filesystem::path> run_directory = {},
                   Communicator& communicator = single_process());
  // With data sets already read (K-fold validation trains on parts of one set).
  Trainer(Experiment experiment, TrainingData data,
          std::optional<std::filesystem::path> run_directory = {},
          Communicator& communicator = single_process());
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // Continues the run a checkpoint was taken from: weights, optimizer state, position in the
  // epoch, random streams, history, callback state.
  void resume(const std::filesystem::path& checkpoint);
  // Starts from a checkpoint's weights only (fresh optimizer, epoch 1; the class names stay
  // the training set's): engine/train/initial_weights.hpp.
  WeightLoadReport initialize_weights(const std::filesystem::path& checkpoint,
                                      WeightMatching matching = {}) {
    return load_initial_weights(SafetensorsFile::read(checkpoint), session_.parameters(), matching);
  }
  // Where fit() writes, once the tool has created and locked it (its final name may differ
  // from the one given at construction).
  void set_run_directory(std::filesystem::path directory) { run_directory_ = std::move(directory); }

  // Trains until trainer.epochs, early stopping, or stop_requested() (then the position is
  // checkpointed, and a later resume continues from it).
  FitOutcome fit(ProgressReporter& progress,
                 const std::function<void(const EpochRecord&)>& after_epoch = {});
  static std::atomic<bool>& stop_requested();  // set by the tool's signal-watching thread

  // The one step path: this rank's `indices` of a global batch of `global` samples. False
  // when the batch is skipped for a non-finite value (trainer.on_nonfinite: skip).
  bool step(std::span<const uint32_t> indices, int64_t global) {
    StepContext context = begin_step(indices, global);
    run_step(context);
    finish_step(context);
    return apply_step(context);
  }
  // Its phases, which the benchmark times one by one: the batch into the plan and the hooks
  // told; the plan run (forward and backward); the hooks on the ready gradients (averaging
  // over ranks); the checks, the optimizer and the metrics.
  StepContext begin_step(std::span<const uint32_t> indices, int64_t global);
  void run_step(StepContext& context);
  void finish_step(StepContext& context);
  bool apply_step(StepContext& context);

  Session& session() { return session_; }
  const Experiment& experiment() const { return session_.experiment(); }
  const TrainingBatches& batches() const { return batches_; }
  Communicator& communicator() { return communicator_; }
  Evaluation evaluate(const Dataset& dataset);
  // The training plan for this rank's share of a full batch.
  BoundPlan& training_plan() { return *full_plan_; }
  const RunPosition& position() const { return state_.position; }

  std::span<const std::string> metric_names() const { return metrics_.names(); }
  const Dataset& train_data() const { return *data_.train; }
  const std::optional<Dataset>& validation_data() const { return data_.validation; }
  const std::optional<Dataset>& test_data() const { return data_.test; }
  const std::vector<EpochRecord>& history() const { return state_.history; }
  int64_t classes() { return session_.classes(); }
  ParameterStore& parameters() { return session_.parameters(); }
  Optimizer& optimizer() { return *optimizer_; }
  // Batches skipped for non-finite values (trainer.on_nonfinite: skip), and why the last was.
  int64_t skipped_batches() const { return skipped_batches_; }
  const std::string& last_skip_message() const { return last_skip_message_; }

  // A checkpoint that resumes at `position`.
  void save_checkpoint(const std::filesystem::path& file, RunPosition position);

 private:
  // data.augmentation on the batch just gathered into `plan`.
  void augment(const BoundPlan& plan, std::span<const uint32_t> indices);
  Trainer(Experiment experiment, std::optional<TrainingData> data,
          std::optional<std::filesystem::path> run_directory, Communicator& communicator);
  void create_optimizer();
  void compile_plans();
  void check_monitored_metric() const;
  CheckpointParts checkpoint_parts();
  BoundPlan& plan_for(int64_t local);
  bool numerics_ok(StepContext& context);
  bool gradients_finite(const BoundPlan& plan) const;
  bool reject_nonfinite(const std::string& culprit);
  bool stop_now() const;
  bool run_epoch(ProgressReporter& progress);
  EpochRecord finish_epoch(double train_seconds, double epoch_seconds);
  bool end_epoch(const EpochRecord& record, ProgressReporter& progress,
                 const std::function<void(const EpochRecord&)>& after_epoch);
  void write_run_files(RunPosition position, bool epoch_done);

  Session session_;
  std::optional<std::filesystem::path> run_directory_;
  Communicator& communicator_;
  TrainingData data_;
  TrainingBatches batches_;
  BoundPlan* full_plan_ = nullptr;  // the Session's, for this rank's share of a full batch
  BoundPlan* tail_plan_ = nullptr;  // and of the last one, when it differs
  std::unique_ptr<Optimizer> optimizer_;
  std::vector<int64_t> gradient_elements_;  // per trainable parameter (the step checks them)
  std::vector<std::unique_ptr<StepHook>> hooks_;
  std::vector<std::unique_ptr<Callback>> callbacks_;
  std::vector<Callback*> callback_views_;  // the same, for checkpoints
  MetricSet metrics_;                      // the training pass's
  MetricSet evaluation_metrics_;           // the evaluations'
  std::vector<double> running_metrics_;    // reused every step for the progress display
  RunState state_;
  ThreadTuner thread_tuner_;  // adaptive threads: times the steps fit() runs
  double step_loss_sum_ = 0;  // the last step's loss summed over its global batch
  int64_t skipped_batches_ = 0;
  std::string last_skip_message_;
};

}  // namespace loom
