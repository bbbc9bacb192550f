#include "engine/train/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "engine/config/build_graph.hpp"
#include "engine/core/error.hpp"
#include "engine/core/memory.hpp"
#include "engine/train/history.hpp"
#include "engine/train/memory_estimate.hpp"

namespace loom {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Different streams for initialization and shuffling, both derived from the one seed.
constexpr uint64_t kShuffleStream = 0x9e3779b97f4a7c15ULL;
// The last `fraction` of the samples (Keras's validation_split: taken before any shuffling).
std::pair<Dataset, Dataset> split_off_validation(const Dataset& data, double fraction) {
  const auto validation_size = int64_t(std::floor(double(data.size()) * fraction));
  const int64_t train_size = data.size() - validation_size;
  if (validation_size == 0 || train_size == 0) {
    throw InputError("data.validation_split: " + std::to_string(fraction) + " of " +
                     std::to_string(data.size()) + " samples leaves an empty part");
  }
  return {data.slice(0, train_size), data.slice(train_size, data.size())};
}

}  // namespace

std::atomic<bool>& Trainer::stop_requested() {
  static std::atomic<bool> requested{false};
  return requested;
}

Trainer::Trainer(Experiment experiment, std::optional<std::filesystem::path> run_directory,
                 Communicator& communicator)
    : experiment_(std::move(experiment)),
      run_directory_(std::move(run_directory)),
      communicator_(communicator),
      classes_(class_count(experiment_)),
      shuffle_random_(experiment_.seed ^ kShuffleStream) {
  // Before the first large allocation (data, parameters, optimizer slots, arenas): a job that
  // cannot fit is refused now, with the figures, not by std::bad_alloc minutes later.
  expect_fits_in_memory(experiment_, estimate_training_memory(experiment_, communicator_.size()),
                        available_memory_bytes());
  const Shape& input = experiment_.model.input.shape;
  const DataSpec& data = experiment_.data;
  train_.emplace(load_dataset(data.train, input, classes_));
  if (data.validation) validation_.emplace(load_dataset(*data.validation, input, classes_));
  if (data.validation_split > 0) {
    auto [train, validation] = split_off_validation(*train_, data.validation_split);
    train_.emplace(std::move(train));
    validation_.emplace(std::move(validation));
  }
  if (data.test) test_.emplace(load_dataset(*data.test, input, classes_));

  const int64_t batch = experiment_.trainer.batch_size;
  if (batch > train_->size()) {
    throw InputError(experiment_.trainer.batch_size_where + ": " + std::to_string(batch) +
                     " is larger than the training set (" + std::to_string(train_->size()) +
                     " samples)");
  }
  const int ranks = communicator_.size();
  if (batch % ranks != 0) {
    throw InputError(experiment_.trainer.batch_size_where + ": a global batch of " +
                     std::to_string(batch) + " does not divide among " + std::to_string(ranks) +
                     " ranks (each rank takes an equal share of every batch; use a multiple of " +
                     std::to_string(ranks) + ")");
  }
  if (ranks > 1 && experiment_.trainer.check_numerics) {
    throw InputError(experiment_.source.string() +
                     ": trainer.check_numerics runs the step node by node to find a culprit; run "
                     "it in one process, not under mpirun");
  }

  Graph graph = build_training_graph(experiment_, batch);
  parameters_.initialize_from(graph, experiment_.seed);
  for (const ParameterGradient& g : graph.parameter_gradients()) {
    parameter_order_.push_back(graph.value(g.parameter).name);
    gradient_elements_.push_back(graph.value(g.parameter).type.numel());
  }
  std::vector<OptimizedParameter> optimized;
  for (const std::string& name : parameter_order_) {
    optimized.push_back({name, parameters_.at(name)});
  }
  ConfigNode options = experiment_.trainer.optimizer.options;
  optimizer_ = OptimizerRegistry::global().create(experiment_.trainer.optimizer.name, options);
  optimizer_->bind(std::move(optimized));
  if (const auto& reduce = experiment_.trainer.reduce_lr_on_plateau) {
    if (!optimizer_->schedule().is_constant()) {
      throw InputError(
          reduce->where() +
          ": reduce_lr_on_plateau needs a constant learning_rate "
          "(the optimizer has a schedule; use the reduce_on_plateau schedule instead)");
    }
    optimizer_->set_schedule(make_reduce_lr_on_plateau(*reduce, optimizer_->learning_rate()));
  }

  metrics_ = make_metrics(experiment_.trainer.metrics);
  for (const auto& metric : metrics_) metric_names_.push_back(metric->name());
  running_metrics_.resize(metrics_.size());
  check_monitored_metric();

  // Every plan is compiled here, before the first step. Each rank's plans are for its share
  // of a batch (a last partial batch may leave a rank fewer samples, or none).
  train_full_ = bind_training_plan(batch / ranks);
  const int64_t train_tail = shard_of(train_->size() % batch, communicator_.rank(), ranks).size();
  if (train_tail > 0 && train_tail != train_full_.batch) {
    train_tail_ = bind_training_plan(train_tail);
  }
  if (ranks > 1) {
    reducer_.emplace(communicator_, gradient_elements_, train_full_.gradient_writers,
                     allreduce_mode_from_environment());
    for (BoundPlan* plan : {&train_full_, &train_tail_}) {
      if (plan->plan) reducer_->attach(*plan->plan, plan->gradient_writers, plan->gradients);
    }
  }
  for (const auto* dataset : {&validation_, &test_}) {
    if (!*dataset) continue;
    const int64_t eval_batch = std::min(batch, (*dataset)->size());
    evaluation_plan_for(eval_batch);
    if (const int64_t tail = (*dataset)->size() % eval_batch; tail > 0) evaluation_plan_for(tail);
  }
  order_.resize(static_cast<size_t>(train_->size()));
  std::iota(order_.begin(), order_.end(), 0u);
}

// A schedule that reads a metric must read one the run reports.
void Trainer::check_monitored_metric() const {
  const std::string monitor = optimizer_->schedule().monitor();
  if (monitor.empty()) return;
  std::string name = monitor;
  bool available = true;
  for (const auto& [prefix, data] : {std::pair{std::string("test_"), test_.has_value()},
                                     std::pair{std::string("val_"), validation_.has_value()}}) {
    if (monitor.starts_with(prefix)) {
      name = monitor.substr(prefix.size());
      available = data;
    }
  }
  const bool reported =
      name == "loss" || std::ranges::find(metric_names_, name) != metric_names_.end();
  if (!reported || !available) {
    const auto& callback = experiment_.trainer.reduce_lr_on_plateau;
    throw InputError(
        (callback ? callback->where() : experiment_.source.string() + ": trainer.optimizer") +
        ": the learning-rate schedule monitors '" + monitor + "', which this run does not report" +
        (reported ? " (its data set is not given)" : " (add it to trainer.metrics)"));
  }
}

BoundPlan Trainer::bind(Graph graph, int64_t batch) {
  BoundPlan bound;
  bound.batch = batch;
  bound.plan = std::make_unique<Plan>(std::move(graph), parameters_, runtime_);
  const Plan& plan = *bound.plan;
  bound.images = plan.f32(plan.graph().value_named(experiment_.model.input.name));
  bound.labels = plan.address(plan.graph().value_named(kLabelsValue));
  bound.loss = plan.f32(*plan.graph().loss());
  bound.prediction = plan.f32(*plan.graph().prediction());
  return bound;
}

BoundPlan Trainer::bind_training_plan(int64_t batch) {
  BoundPlan bound = bind(build_training_graph(experiment_, batch), batch);
  // Each batch size has its own graph: match its gradients to the optimizer's parameter
  // order by name, once, here.
  const Graph& graph = bound.plan->graph();
  for (const std::string& name : parameter_order_) {
    const ValueId parameter = graph.value_named(name);
    const ParameterGradient* match = nullptr;
    for (const ParameterGradient& g : graph.parameter_gradients()) {
      if (g.parameter == parameter) match = &g;
    }
    if (!match) {
      throw RuntimeError("the plan for batch " + std::to_string(batch) + " has no gradient for '" +
                         name + "'");
    }
    bound.gradients.push_back(bound.plan->f32(match->gradient));
    bound.gradient_writers.push_back(size_t(graph.value(match->gradient).producer));
  }
  return bound;
}

BoundPlan Trainer::bind_evaluation_plan(int64_t batch) {
  return bind(build_evaluation_graph(experiment_, batch), batch);
}

void Trainer::load_batch(const BoundPlan& plan, const Dataset& data,
                         std::span<const uint32_t> indices) {
  gather_batch(data, indices, static_cast<float>(experiment_.data.scale),
               {plan.images, plan.labels, experiment_.trainer.loss.labels, classes_});
}

void Trainer::update_metrics(const BoundPlan& plan, const Dataset& data,
                             std::span<const uint32_t> indices) {
  const PredictionBatch batch{plan.prediction, std::ssize(indices), classes_, indices,
                              data.labels()};
  for (const auto& metric : metrics_) metric->update(batch);
}

void Trainer::reset_metrics() {
  for (const auto& metric : metrics_) metric->reset();
}

BoundPlan& Trainer::evaluation_plan_for(int64_t batch) {
  for (const auto& plan : evaluation_plans_) {
    if (plan->batch == batch) return *plan;
  }
  return *evaluation_plans_.emplace_back(std::make_unique<BoundPlan>(bind_evaluation_plan(batch)));
}

BoundPlan& Trainer::training_plan_for(int64_t batch) {
  BoundPlan& plan = batch == train_full_.batch ? train_full_ : train_tail_;
  if (!plan.plan || plan.batch != batch) {
    throw RuntimeError("no training plan for a batch of " + std::to_string(batch));
  }
  return plan;
}

Evaluation Trainer::evaluate(const Dataset& dataset) {
  const int64_t batch = std::min(experiment_.trainer.batch_size, dataset.size());
  // Plans are compiled before the loop: the constructor made them for the validation and test
  // sets; another dataset (or a rank's shard of one) may need its own.
  const Shard part = shard_of(dataset.size(), communicator_.rank(), communicator_.size());
  if (part.size() > 0) {
    evaluation_plan_for(std::min(batch, part.size()));
    if (const int64_t tail = part.size() % batch; tail > 0) evaluation_plan_for(tail);
  }
  std::vector<uint32_t> indices(static_cast<size_t>(dataset.size()));
  std::iota(indices.begin(), indices.end(), 0u);
  Evaluation evaluation;
  evaluation.confusion.assign(size_t(classes_ * classes_), 0);
  double loss_sum = 0;
  reset_metrics();
  for (int64_t begin = part.begin; begin < part.end; begin += batch) {
    const int64_t size = std::min(batch, part.end - begin);
    BoundPlan& current = evaluation_plan_for(size);
    const std::span<const uint32_t> chunk(indices.data() + begin, size_t(size));
    load_batch(current, dataset, chunk);
    current.plan->run();
    loss_sum += double(*current.loss) * double(size);
    update_metrics(current, dataset, chunk);
    for (int64_t r = 0; r < size; ++r) {
      const float* row = current.prediction + r * classes_;
      const auto predicted = std::max_element(row, row + classes_) - row;
      ++evaluation.confusion[size_t(dataset.labels()[chunk[size_t(r)]] * classes_ + predicted)];
    }
  }
  evaluation.samples = dataset.size();
  if (communicator_.size() > 1) {  // every rank's shard, summed
    std::vector<double> sums = {loss_sum};
    sums.insert(sums.end(), evaluation.confusion.begin(), evaluation.confusion.end());
    communicator_.sum(sums);
    loss_sum = sums[0];
    for (size_t i = 0; i < evaluation.confusion.size(); ++i) {
      evaluation.confusion[i] = std::llround(sums[i + 1]);
    }
    evaluation.metrics = results_of(global_metric_states());
  } else {
    for (const auto& metric : metrics_) evaluation.metrics.push_back(metric->result());
  }
  evaluation.loss = loss_sum / double(evaluation.samples);
  return evaluation;
}

std::vector<std::vector<double>> Trainer::global_metric_states() {
  std::vector<std::vector<double>> states;
  std::vector<double> flat;
  for (const auto& metric : metrics_) {
    states.push_back(metric->state());
    flat.insert(flat.end(), states.back().begin(), states.back().end());
  }
  communicator_.sum(flat);
  size_t next = 0;
  for (auto& state : states) {
    for (double& value : state) value = flat[next++];
  }
  return states;
}

// A metric's result for given sums: its own state is swapped out and back in.
std::vector<double> Trainer::results_of(const std::vector<std::vector<double>>& states) {
  std::vector<double> results;
  for (size_t m = 0; m < metrics_.size(); ++m) {
    const std::vector<double> own = metrics_[m]->state();
    metrics_[m]->restore(states[m]);
    results.push_back(metrics_[m]->result());
    metrics_[m]->restore(own);
  }
  return results;
}

namespace {

// NaN and infinities survive multiplication by zero: one vectorizable pass finds them.
bool all_finite(const float* values, int64_t count) {
  float probe = 0.f;
#pragma omp simd reduction(+ : probe)
  for (int64_t i = 0; i < count; ++i) probe += values[i] * 0.f;
  return probe == 0.f;
}

}  // namespace

// Checks the step's loss and gradients; in checking mode (check_numerics), runs the step
// itself node by node and checks every output. A bad step either throws with the epoch, the
// step and the first node that produced a non-finite value, or (on_nonfinite: skip) reports it
// and leaves the weights untouched.
bool Trainer::gradients_finite(const BoundPlan& plan) const {
  for (size_t i = 0; i < plan.gradients.size(); ++i) {
    if (!all_finite(plan.gradients[i], gradient_elements_[i])) return false;
  }
  return true;
}

bool Trainer::numerics_ok(BoundPlan& plan) {
  if (!experiment_.trainer.check_numerics) {
    if (std::isfinite(*plan.loss) && gradients_finite(plan)) return true;
  }
  // Find the first node whose output is not finite, running the step node by node (again,
  // when the cheap check above failed).
  const Graph& graph = plan.plan->graph();
  std::string culprit;
  for (size_t n = 0; n < graph.nodes().size() && culprit.empty(); ++n) {
    plan.plan->run_node(n);
    const Node& node = graph.nodes()[n];
    const size_t outputs = node.outputs.size() - node.op->signature().auxiliary_outputs;
    for (size_t k = 0; k < outputs; ++k) {
      const Value& value = graph.value(node.outputs[k]);
      if (value.type.dtype == DType::f32 &&
          !all_finite(plan.plan->f32(node.outputs[k]), value.type.numel())) {
        culprit = "node '" + node.name + "' (" + std::string(node.op->name()) + ")";
        break;
      }
    }
  }
  if (culprit.empty()) return true;  // checking mode, and every output was finite
  return reject_nonfinite(culprit);
}

// Stops training (trainer.on_nonfinite: stop) or records why the batch is skipped.
bool Trainer::reject_nonfinite(const std::string& culprit) {
  const std::string where = "epoch " + std::to_string(epoch_) + ", step " +
                            std::to_string(step_in_epoch_ + 1) +
                            ": a non-finite value, first produced by " + culprit;
  if (experiment_.trainer.on_nonfinite == TrainerSpec::OnNonFinite::stop) {
    throw NonFiniteError(where +
                         "; training stopped (the last checkpoint is the last good state; "
                         "trainer.on_nonfinite: skip skips such batches)");
  }
  last_skip_message_ = where + "; the batch was skipped";
  return false;
}

bool Trainer::improved(const MonitorSpec& monitor, double value, double best, bool has_best,
                       double min_delta) const {
  if (!has_best) return true;
  return monitor.maximize() ? value > best + min_delta : value < best - min_delta;
}

EpochRecord Trainer::finish_epoch(double train_seconds, double epoch_seconds) {
  average_moving_statistics();
  EpochRecord record{
      .epoch = epoch_,
      .loss = loss_sum_ / double(seen_),
      .metrics = communicator_.size() > 1 ? results_of(global_metric_states()) : running_metrics_};
  if (validation_) {
    Evaluation evaluation = evaluate(*validation_);
    record.has_validation = true;
    record.val_loss = evaluation.loss;
    record.val_metrics = std::move(evaluation.metrics);
  }
  if (test_) {
    Evaluation evaluation = evaluate(*test_);
    record.has_test = true;
    record.test_loss = evaluation.loss;
    record.test_metrics = std::move(evaluation.metrics);
  }
  record.seconds = epoch_seconds;
  record.samples_per_second = double(seen_) / train_seconds;
  return record;
}

FitOutcome Trainer::fit(ProgressReporter& progress,
                        const std::function<void(const EpochRecord&)>& after_epoch) {
  const int64_t batch = experiment_.trainer.batch_size;
  const int64_t samples = train_->size();
  const int64_t steps = (samples + batch - 1) / batch;
  const int64_t epochs = experiment_.trainer.epochs;
  const int64_t every_steps = experiment_.trainer.checkpoint.every_steps;

  for (; epoch_ <= epochs; ++epoch_) {
    const auto epoch_start = Clock::now();
    if (step_in_epoch_ == 0) {
      loss_sum_ = 0;
      seen_ = 0;
      reset_metrics();
    }
    progress.epoch_begin(epoch_, epochs, steps, metric_names_);
    for (; step_in_epoch_ < steps; ++step_in_epoch_) {
      if (reducer_ ? stop_agreed_ : stop_requested().load(std::memory_order_relaxed)) {
        write_run_files(false);
        return FitOutcome::interrupted;
      }
      // Keras reshuffles the whole training set every epoch. After the stop check: a run
      // stopped before its epoch's first step is saved at step 0 unshuffled, and its resume
      // shuffles once, as the uninterrupted run does.
      if (step_in_epoch_ == 0 && experiment_.trainer.shuffle) {
        shuffle_random_.shuffle(std::span<uint32_t>(order_));
      }
      const int64_t begin = step_in_epoch_ * batch;
      const int64_t size = std::min(batch, samples - begin);
      if (reducer_ ? !distributed_step(begin, size) : !local_step(begin, size)) {
        ++skipped_batches_;  // (or a NonFiniteError was thrown)
        continue;
      }
      loss_sum_ += step_loss_sum_;
      seen_ += size;
      for (size_t m = 0; m < metrics_.size(); ++m) running_metrics_[m] = metrics_[m]->result();
      progress.step_end(step_in_epoch_ + 1, loss_sum_ / double(seen_), running_metrics_);
      if (every_steps > 0 && optimizer_->iterations() % every_steps == 0 &&
          step_in_epoch_ + 1 < steps) {
        ++step_in_epoch_;  // the checkpoint records the step just taken
        write_run_files(false);
        --step_in_epoch_;
      }
    }
    const double train_seconds = seconds_since(epoch_start);
    if (seen_ == 0) {
      throw NonFiniteError("epoch " + std::to_string(epoch_) +
                           ": every batch was skipped for non-finite values (" +
                           last_skip_message_ + ")");
    }
    EpochRecord record = finish_epoch(train_seconds, seconds_since(epoch_start));
    history_.push_back(record);
    progress.epoch_end(record);
    const EpochMetrics values = named_values(record, metric_names_);
    optimizer_->epoch_end(values);

    // The best checkpoint, by its monitored metric.
    const MonitorSpec& best_monitor = experiment_.trainer.checkpoint.monitor;
    const double best_value = values.at(best_monitor.metric);
    const bool new_best =
        improved(best_monitor, best_value, best_checkpoint_.best, best_checkpoint_.has_best, 0.0);
    if (new_best) best_checkpoint_ = {best_value, true, 0};

    // Early stopping (Keras's rule: wait resets on an improvement of more than min_delta).
    bool stop = false;
    if (const auto& stopping = experiment_.trainer.early_stopping) {
      const double value = values.at(stopping->monitor.metric);
      if (improved(stopping->monitor, value, early_stopping_.best, early_stopping_.has_best,
                   stopping->min_delta)) {
        early_stopping_ = {value, true, 0};
        if (stopping->restore_best_weights) {
          best_weights_.clear();
          for (const std::string& name : parameter_order_) {
            const auto weights = parameters_.at(name);
            best_weights_.emplace_back(weights.begin(), weights.end());
          }
        }
      } else if (++early_stopping_.wait >= std::max<int64_t>(stopping->patience, 1)) {
        stop = true;
      }
    }
    step_in_epoch_ = 0;
    if (after_epoch) after_epoch(record);
    if (stop) {
      if (experiment_.trainer.early_stopping->restore_best_weights && !best_weights_.empty()) {
        for (size_t i = 0; i < parameter_order_.size(); ++i) {
          std::ranges::copy(best_weights_[i], parameters_.at(parameter_order_[i]).begin());
        }
      }
      ++epoch_;
      write_run_files(true);
      return FitOutcome::stopped_early;
    }
    if (run_directory_ && new_best) {
      ++epoch_;  // the checkpoint resumes at the next epoch
      save_checkpoint(*run_directory_ / "best.safetensors");
      --epoch_;
    }
    ++epoch_;
    write_run_files(true);
    --epoch_;
  }
  return FitOutcome::finished;
}

// One process's step on the `size` samples of the epoch's order from `begin`: false when the
// batch is skipped for a non-finite value.
bool Trainer::local_step(int64_t begin, int64_t size) {
  const std::span<const uint32_t> indices(order_.data() + begin, size_t(size));
  BoundPlan& plan = training_plan_for(size);
  load_batch(plan, *train_, indices);
  runtime_.step = optimizer_->iterations();
  if (!experiment_.trainer.check_numerics) plan.plan->run();  // checking mode runs it below
  if (!numerics_ok(plan)) return false;
  optimizer_->step(plan.gradients);
  step_loss_sum_ = double(*plan.loss) * double(size);
  update_metrics(plan, *train_, indices);
  return true;
}

// This rank's shard of the same global batch: its gradients averaged with every other
// rank's, then the same update everywhere. A rank whose shard of a last partial batch is
// empty adds zeros, and updates with the others.
bool Trainer::distributed_step(int64_t begin, int64_t size) {
  const Shard shard = shard_of(size, communicator_.rank(), communicator_.size());
  const std::span<const uint32_t> indices(order_.data() + begin + shard.begin,
                                          size_t(shard.size()));
  BoundPlan& plan = shard.size() > 0 ? training_plan_for(shard.size()) : train_full_;
  reducer_->begin_step(shard.size(), size, stop_requested().load(std::memory_order_relaxed),
                       plan.loss);
  if (shard.size() > 0) {
    load_batch(plan, *train_, indices);
    runtime_.step = optimizer_->iterations();
    plan.plan->run();  // in overlapped mode, hooks send buckets as the backward pass goes
  }
  const GradientReducer::Totals totals = reducer_->finish_step(plan.gradients);
  stop_agreed_ = totals.stop;
  if (!std::isfinite(totals.loss_sum) || !gradients_finite(plan)) {
    return reject_nonfinite("the batch's loss or its gradients (averaged over ranks)");
  }
  optimizer_->step(plan.gradients);
  step_loss_sum_ = totals.loss_sum;
  if (shard.size() > 0) update_metrics(plan, *train_, indices);
  return true;
}

// The run directory's files: history.csv and .json after each epoch, and the last checkpoint.
// Every rank calls it at the same step: a checkpoint inside an epoch holds the metrics' sums
// over every rank, which takes them all.
void Trainer::write_run_files(bool epoch_done) {
  if (!epoch_done && communicator_.size() > 1) {
    checkpoint_metric_states_ = global_metric_states();
    average_moving_statistics();
  }
  if (run_directory_) {
    if (epoch_done) {
      write_history_csv(*run_directory_ / "history.csv", metric_names_, history_);
      write_file_atomically(*run_directory_ / "history.json",
                            history_json(metric_names_, history_));
    }
    save_checkpoint(*run_directory_ / "last.safetensors");
  }
  checkpoint_metric_states_.clear();  // an epoch-end checkpoint's sums are this rank's own
}

// Batch normalization's moving statistics follow each rank's own shards; they are averaged
// over the ranks at every epoch end and checkpoint, so every rank evaluates and saves the
// same model.
void Trainer::average_moving_statistics() {
  if (communicator_.size() == 1) return;
  for (const auto& [name, shape] : parameters_.shapes()) {
    if (std::ranges::find(parameter_order_, name) != parameter_order_.end()) continue;
    const std::span<float> values = parameters_.at(name);
    communicator_.sum(values);
    for (float& value : values) value /= float(communicator_.size());
  }
}

}  // namespace loom
