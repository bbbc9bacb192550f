#include "engine/train/trainer.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/core/memory.hpp"
#include "engine/exec/denormals.hpp"
#include "engine/train/adapt.hpp"
#include "engine/train/callbacks.hpp"
#include "engine/train/data_parallel_averaging.hpp"
#include "engine/train/history.hpp"
#include "engine/train/memory_estimate.hpp"

namespace loom {

namespace {

// Different streams for initialization and shuffling, both derived from the one seed.
constexpr uint64_t kShuffleStream = 0x9e3779b97f4a7c15ULL;

// The batch size must suit the data and the ranks (checked once the data is read).
void check_batch_size(const Experiment& experiment, int64_t train_samples, int ranks) {
  const int64_t batch = experiment.trainer.batch_size;
  if (batch > train_samples) {
    throw InputError(experiment.trainer.batch_size_where + ": " + std::to_string(batch) +
                     " is larger than the training set (" + std::to_string(train_samples) +
                     " samples)");
  }
  if (batch % ranks != 0) {
    throw InputError(experiment.trainer.batch_size_where + ": a global batch of " +
                     std::to_string(batch) + " does not divide among " + std::to_string(ranks) +
                     " ranks (each rank takes an equal share of every batch; use a multiple of " +
                     std::to_string(ranks) + ")");
  }
  if (ranks > 1 && experiment.trainer.check_numerics) {
    throw InputError(experiment.source.string() +
                     ": trainer.check_numerics runs the step node by node to find a culprit; run "
                     "it in one process, not under mpirun");
  }
}

}  // namespace

std::atomic<bool>& Trainer::stop_requested() {
  static std::atomic<bool> requested{false};
  return requested;
}

Trainer::Trainer(Experiment experiment, std::optional<std::filesystem::path> run_directory,
                 Communicator& communicator)
    : Trainer(std::move(experiment), std::optional<TrainingData>(), std::move(run_directory),
              communicator) {}

Trainer::Trainer(Experiment experiment, TrainingData data,
                 std::optional<std::filesystem::path> run_directory, Communicator& communicator)
    : Trainer(std::move(experiment), std::optional<TrainingData>(std::move(data)),
              std::move(run_directory), communicator) {}

Trainer::Trainer(Experiment experiment, std::optional<TrainingData> data,
                 std::optional<std::filesystem::path> run_directory, Communicator& communicator)
    : session_(std::move(experiment)),
      run_directory_(std::move(run_directory)),
      communicator_(communicator),
      metrics_(session_.experiment().trainer.metrics,
               metric_context(session_.experiment(), session_.classes())),
      evaluation_metrics_(session_.experiment().trainer.metrics,
                          metric_context(session_.experiment(), session_.classes())),
      state_(session_.experiment().seed ^ kShuffleStream),
      thread_tuner_(session_.runtime(), communicator.size() == 1) {
  const Experiment& e = session_.experiment();
  set_flush_denormals(e.trainer.flush_denormals);
  // Before the first large allocation (data, parameters, optimizer slots, arenas): a job that
  // cannot fit is refused now, with the figures, not by std::bad_alloc minutes later.
  expect_fits_in_memory(
      e, estimate_training_memory(session_, communicator_.rank(), communicator_.size()),
      available_memory_bytes());
  data_ = data ? std::move(*data) : load_training_data(e, session_.classes());
  session_.set_class_names(data_.train->class_names());
  adapt_normalization(e.model, *data_.train, session_.parameters());
  check_batch_size(e, data_.train->size(), communicator_.size());
  batches_ = TrainingBatches::of(e.trainer.batch_size, data_.train->size(), communicator_.rank(),
                                 communicator_.size());
  create_optimizer();
  running_metrics_.resize(metrics_.size());
  check_monitored_metric();
  compile_plans();
  callbacks_.push_back(std::make_unique<BestCheckpoint>(e.trainer.checkpoint.monitor));
  callbacks_.push_back(std::make_unique<EarlyStopping>(
      e.trainer.early_stopping, session_.parameters(), session_.trainable_parameters()));
  for (const auto& callback : callbacks_) callback_views_.push_back(callback.get());
  state_.order.resize(static_cast<size_t>(data_.train->size()));
  std::iota(state_.order.begin(), state_.order.end(), 0u);
}

Trainer::~Trainer() = default;

void Trainer::create_optimizer() {
  const Experiment& e = session_.experiment();
  ParameterStore& parameters = session_.parameters();
  std::vector<OptimizedParameter> optimized;
  for (const std::string& name : session_.trainable_parameters()) {
    optimized.push_back({name, parameters.at(name)});
    gradient_elements_.push_back(numel(parameters.shape(name)));
  }
  optimizer_ = OptimizerRegistry::global().create(e.trainer.optimizer);
  optimizer_->bind(std::move(optimized));
  // The config checked that the optimizer's learning rate is a constant.
  if (const auto& reduce = e.trainer.reduce_lr_on_plateau) {
    optimizer_->set_schedule(
        make_reduce_lr_on_plateau(reduce->options, optimizer_->learning_rate()));
  }
}

// Every plan is compiled here, before the first step: this rank's share of a full batch and
// of the last one, and the evaluation plans for its shards of the validation and test sets.
// With more than one rank, the gradients are averaged by a hook on every training plan.
void Trainer::compile_plans() {
  full_plan_ = &session_.plan(Purpose::training, batches_.local);
  if (batches_.local_tail > 0 && batches_.local_tail != batches_.local) {
    tail_plan_ = &session_.plan(Purpose::training, batches_.local_tail);
  }
  if (communicator_.size() > 1) {
    hooks_.push_back(
        std::make_unique<DataParallelAveraging>(communicator_, session_.trainable_parameters(),
                                                gradient_elements_, full_plan_->gradient_writers));
  }
  for (const auto& hook : hooks_) {
    for (BoundPlan* plan : {full_plan_, tail_plan_}) {
      if (plan) hook->on_plan_compiled(*plan);
    }
  }
  for (const auto* dataset : {&data_.validation, &data_.test}) {
    if (!*dataset) continue;
    session_.prepare_inference(
        shard_of((*dataset)->size(), communicator_.rank(), communicator_.size()).size());
  }
}

// A schedule that reads a metric must read one the run reports.
void Trainer::check_monitored_metric() const {
  const std::string monitor = optimizer_->schedule().monitor();
  if (monitor.empty()) return;
  std::string name = monitor;
  bool available = true;
  for (const auto& [prefix, data] :
       {std::pair{std::string("test_"), data_.test.has_value()},
        std::pair{std::string("val_"), data_.validation.has_value()}}) {
    if (monitor.starts_with(prefix)) {
      name = monitor.substr(prefix.size());
      available = data;
    }
  }
  const auto names = metrics_.names();
  const bool reported = name == "loss" || std::ranges::find(names, name) != names.end();
  if (!reported || !available) {
    const Experiment& e = session_.experiment();
    const auto& callback = e.trainer.reduce_lr_on_plateau;
    throw InputError((callback ? callback->where : e.source.string() + ": trainer.optimizer") +
                     ": the learning-rate schedule monitors '" + monitor +
                     "', which this run does not report" +
                     (reported ? " (its data set is not given)" : " (add it to trainer.metrics)"));
  }
}

CheckpointParts Trainer::checkpoint_parts() {
  return {.experiment = session_.experiment(),
          .parameters = session_.parameters(),
          .optimizer = *optimizer_,
          .metrics = metrics_,
          .callbacks = callback_views_,
          .class_names = session_.class_names(),
          .input_scale = data_.train->format().scale,
          .has_validation = data_.validation.has_value(),
          .has_test = data_.test.has_value()};
}

void Trainer::resume(const std::filesystem::path& checkpoint) {
  read_checkpoint(checkpoint, checkpoint_parts(), state_, communicator_.is_root());
  metrics_.results(running_metrics_);
  session_.runtime().step = optimizer_->iterations();
}

void Trainer::save_checkpoint(const std::filesystem::path& file, RunPosition position) {
  write_checkpoint(file, checkpoint_parts(), state_, position, metrics_.states());
}

Evaluation Trainer::evaluate(const Dataset& dataset) {
  return loom::evaluate(session_, evaluation_metrics_, dataset, communicator_);
}

}  // namespace loom
