#pragma once
// The training loop: plans compiled once per batch size, a seeded shuffle each epoch, one
// optimizer step per batch, the loss and the metrics tracked as Keras does (means weighted
// by batch size), evaluation of the validation and test sets after every epoch (counting
// every sample), early stopping, and checkpoints from which a run continues exactly.
//
// Data parallel (under mpirun): every rank holds the same weights and takes its shard of
// every global batch; the gradients are averaged over the ranks (GradientReducer) before
// every rank applies the same update. Losses, metrics and evaluations are summed over the
// ranks, so every rank sees the same history and takes the same decisions (early stopping,
// learning-rate plateaus); only a trainer given a run directory (rank 0's) writes files.

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "engine/config/experiment.hpp"
#include "engine/core/error.hpp"
#include "engine/core/random.hpp"
#include "engine/data/dataset.hpp"
#include "engine/dist/communicator.hpp"
#include "engine/dist/gradient_reducer.hpp"
#include "engine/exec/parameter_store.hpp"
#include "engine/exec/plan.hpp"
#include "engine/exec/runtime.hpp"
#include "engine/optim/optimizer.hpp"
#include "engine/train/metrics.hpp"
#include "engine/train/progress.hpp"

namespace loom {

struct Evaluation {
  double loss = 0;
  std::vector<double> metrics;  // in the order of Trainer::metric_names()
  int64_t samples = 0;
  std::vector<int64_t> confusion;  // [true class][predicted class], row-major
};

// A compiled plan with the addresses the loop touches, looked up once.
struct BoundPlan {
  std::unique_ptr<Plan> plan;
  int64_t batch = 0;
  float* images = nullptr;
  void* labels = nullptr;
  const float* loss = nullptr;
  const float* prediction = nullptr;
  std::vector<float*> gradients;  // in the optimizer's parameter order (clipping scales them)
  std::vector<size_t> gradient_writers;  // the node writing each of them last
};

enum class FitOutcome { finished, stopped_early, interrupted };

// A NaN or an infinity stopped training (trainer.on_nonfinite: stop). Exit code 1.
class NonFiniteError : public RuntimeError {
 public:
  using RuntimeError::RuntimeError;
};

class Trainer {
 public:
  // Loads the datasets and compiles the plans; bad data files throw InputError here.
  // With a run directory, fit() keeps history.csv, history.json and the checkpoints there.
  explicit Trainer(Experiment experiment, std::optional<std::filesystem::path> run_directory = {},
                   Communicator& communicator = single_process());

  // Continues the run a checkpoint was taken from: weights, optimizer state, position in the
  // epoch, random streams, history, callback state.
  void resume(const std::filesystem::path& checkpoint);
  // Starts from a checkpoint's weights only (fresh optimizer, epoch 1).
  void initialize_weights(const std::filesystem::path& checkpoint);
  // Where fit() writes, once the tool has created and locked it (its final name may differ
  // from the one given at construction).
  void set_run_directory(std::filesystem::path directory) { run_directory_ = std::move(directory); }

  // Trains until trainer.epochs, early stopping, or stop_requested() (then the position is
  // checkpointed, and a later resume continues from it).
  FitOutcome fit(ProgressReporter& progress,
                 const std::function<void(const EpochRecord&)>& after_epoch = {});
  static std::atomic<bool>& stop_requested();  // set by the tool's signal-watching thread

  // One optimizer step on the given samples of the training set (this rank's shard of a
  // global batch): the phases below.
  void train_step(std::span<const uint32_t> indices) {
    BoundPlan& plan = training_plan_for(std::ssize(indices));
    load_batch(plan, *train_, indices);
    runtime_.step = optimizer_->iterations();  // dropout's random stream follows the step
    if (reducer_)
      reducer_->begin_step(std::ssize(indices), experiment_.trainer.batch_size, false, plan.loss);
    plan.plan->run();
    if (reducer_) reducer_->finish_step(plan.gradients);
    optimizer_->step(plan.gradients);
  }
  BoundPlan& training_plan_for(int64_t batch);
  void load_batch(const BoundPlan& plan, const Dataset& data, std::span<const uint32_t> indices);
  void apply_gradients(const BoundPlan& plan) { optimizer_->step(plan.gradients); }
  // Averaging the plan's gradients over the ranks (nothing with one), around its run: `local`
  // samples of the global batch are this rank's. In overlapped mode buckets leave during the
  // run; finish waits for the rest and writes the averages back.
  void begin_gradient_reduction(const BoundPlan& plan, int64_t local) {
    if (reducer_) reducer_->begin_step(local, experiment_.trainer.batch_size, false, plan.loss);
  }
  void finish_gradient_reduction(const BoundPlan& plan) {
    if (reducer_) reducer_->finish_step(plan.gradients);
  }
  // The training plan's batch on this rank: the global batch size over the ranks.
  int64_t local_batch() const { return experiment_.trainer.batch_size / communicator_.size(); }
  Communicator& communicator() { return communicator_; }
  // The forward-only plan for `batch` samples, compiled on first request.
  BoundPlan& evaluation_plan_for(int64_t batch);
  Evaluation evaluate(const Dataset& dataset);

  void save_checkpoint(const std::filesystem::path& file) const;

  const Experiment& experiment() const { return experiment_; }
  std::span<const std::string> metric_names() const { return metric_names_; }
  const Dataset& train_data() const { return *train_; }
  const std::optional<Dataset>& validation_data() const { return validation_; }
  const std::optional<Dataset>& test_data() const { return test_; }
  const std::vector<EpochRecord>& history() const { return history_; }
  int64_t classes() const { return classes_; }
  ParameterStore& parameters() { return parameters_; }
  const Runtime& runtime() const { return runtime_; }
  Optimizer& optimizer() { return *optimizer_; }
  const BoundPlan& training_plan() const { return train_full_; }
  // Batches skipped for non-finite values (trainer.on_nonfinite: skip), and why the last was.
  int64_t skipped_batches() const { return skipped_batches_; }
  const std::string& last_skip_message() const { return last_skip_message_; }

 private:
  BoundPlan bind(Graph graph, int64_t batch);
  BoundPlan bind_training_plan(int64_t batch);
  BoundPlan bind_evaluation_plan(int64_t batch);
  void update_metrics(const BoundPlan& plan, const Dataset& data,
                      std::span<const uint32_t> indices);
  void reset_metrics();
  void check_monitored_metric() const;
  bool numerics_ok(BoundPlan& plan);
  bool gradients_finite(const BoundPlan& plan) const;
  EpochRecord finish_epoch(double train_seconds, double epoch_seconds);
  bool improved(const MonitorSpec& monitor, double value, double best, bool has_best,
                double min_delta) const;
  void write_run_files(bool epoch_done);
  // Sums of every metric's state over the ranks (collective), and the results they give.
  std::vector<std::vector<double>> global_metric_states();
  std::vector<double> results_of(const std::vector<std::vector<double>>& states);
  bool reject_nonfinite(const std::string& culprit);
  bool local_step(int64_t begin, int64_t size);
  void average_moving_statistics();
  bool distributed_step(int64_t begin, int64_t size);

  Experiment experiment_;
  std::optional<std::filesystem::path> run_directory_;
  Communicator& communicator_;
  std::optional<GradientReducer> reducer_;                     // with more than one rank
  bool stop_agreed_ = false;                                   // every rank stops at the next step
  std::vector<std::vector<double>> checkpoint_metric_states_;  // global, for a mid-epoch save
  int64_t classes_;
  std::optional<Dataset> train_;
  std::optional<Dataset> validation_;
  std::optional<Dataset> test_;
  Runtime runtime_;
  ParameterStore parameters_;
  std::unique_ptr<Optimizer> optimizer_;
  std::vector<std::string> parameter_order_;
  std::vector<int64_t> gradient_elements_;  // per parameter, looked up once (the step checks them)
  BoundPlan train_full_, train_tail_;
  std::vector<std::unique_ptr<BoundPlan>> evaluation_plans_;  // one per batch size seen
  std::vector<std::unique_ptr<Metric>> metrics_;
  std::vector<std::string> metric_names_;
  std::vector<double> running_metrics_;  // reused every step for the progress display

  // Where the run is; all of it goes into checkpoints.
  Random shuffle_random_;
  std::vector<uint32_t> order_;  // this epoch's sample order
  int64_t epoch_ = 1;            // the current epoch, 1-based
  int64_t step_in_epoch_ = 0;    // steps of it already taken
  double loss_sum_ = 0;
  int64_t seen_ = 0;
  double step_loss_sum_ = 0;  // the last step's loss summed over its global batch
  std::vector<EpochRecord> history_;
  struct Watch {
    double best = 0;
    bool has_best = false;
    int64_t wait = 0;
  };
  Watch early_stopping_, best_checkpoint_;
  std::vector<std::vector<float>> best_weights_;  // restore_best_weights (parameter order)
  int64_t skipped_batches_ = 0;
  std::string last_skip_message_;

  // Checkpoints (engine/train/checkpoint.cpp): every field is checked before it is used.
  void load_weights(const class SafetensorsFile& file);
  std::vector<std::vector<double>> read_metric_states(const class CheckpointFields& fields) const;
  Watch read_watch(const CheckpointFields& fields, const std::string& key, int64_t max_wait,
                   bool has_best) const;
  void restore_optimizer(const SafetensorsFile& file, const CheckpointFields& fields,
                         int64_t iterations);
};

}  // namespace loom
