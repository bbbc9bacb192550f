#include "engine/train/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <numeric>

#include "engine/config/build_graph.hpp"
#include "engine/core/error.hpp"

namespace loom {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Different streams for initialization and shuffling, both derived from the one seed.
constexpr uint64_t kShuffleStream = 0x9e3779b97f4a7c15ULL;

}  // namespace

Trainer::Trainer(Experiment experiment)
    : experiment_(std::move(experiment)),
      classes_(class_count(experiment_)),
      shuffle_random_(experiment_.seed ^ kShuffleStream) {
  const Shape& input = experiment_.model.input.shape;
  train_.emplace(load_dataset(experiment_.data.train, input, classes_));
  if (experiment_.data.test) test_.emplace(load_dataset(*experiment_.data.test, input, classes_));

  const int64_t batch = experiment_.trainer.batch_size;
  if (batch > train_->size()) {
    throw InputError(experiment_.trainer.batch_size_where + ": " + std::to_string(batch) +
                     " is larger than the training set (" + std::to_string(train_->size()) +
                     " samples)");
  }

  Graph graph = build_training_graph(experiment_, batch);
  parameters_.initialize_from(graph, experiment_.seed);
  for (const ParameterGradient& g : graph.parameter_gradients()) {
    parameter_order_.push_back(graph.value(g.parameter).name);
  }
  std::vector<OptimizedParameter> optimized;
  for (const std::string& name : parameter_order_)
    optimized.push_back({name, parameters_.at(name)});

  ConfigNode options = experiment_.trainer.optimizer.options;
  optimizer_ = OptimizerRegistry::global().create(experiment_.trainer.optimizer.name, options);
  optimizer_->bind(std::move(optimized));
  if (const std::string monitor = optimizer_->schedule().monitor();
      monitor.starts_with("test_") && !test_) {
    throw InputError(experiment_.source.string() +
                     ": trainer.optimizer: the learning-rate "
                     "schedule monitors '" +
                     monitor + "' but data.test is not given");
  }

  // Every plan is compiled here, before the first step.
  train_full_ = bind_training_plan(batch);
  if (const int64_t tail = train_->size() % batch; tail > 0) train_tail_ = bind_training_plan(tail);
  if (test_) {
    const int64_t eval_batch = std::min(batch, test_->size());
    evaluation_plan_for(eval_batch);
    if (const int64_t tail = test_->size() % eval_batch; tail > 0) evaluation_plan_for(tail);
  }
  order_.resize(static_cast<size_t>(train_->size()));
  metrics_ = make_metrics(experiment_.trainer.metrics);
  for (const auto& metric : metrics_) metric_names_.push_back(metric->name());
  running_metrics_.resize(metrics_.size());
  check_monitored_metric();
}

// A schedule that reads a metric must read one the run reports.
void Trainer::check_monitored_metric() const {
  const std::string monitor = optimizer_->schedule().monitor();
  if (monitor.empty()) return;
  const std::string name = monitor.starts_with("test_") ? monitor.substr(5) : monitor;
  const bool reported =
      name == "loss" || std::ranges::find(metric_names_, name) != metric_names_.end();
  if (!reported || (monitor.starts_with("test_") && !test_)) {
    throw InputError(experiment_.source.string() +
                     ": trainer.optimizer: the learning-rate "
                     "schedule monitors '" +
                     monitor + "', which this run does not report" +
                     (reported ? " (data.test is not given)" : " (add it to trainer.metrics)"));
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

std::vector<EpochRecord> Trainer::fit(ProgressReporter& progress,
                                      const std::function<void(const EpochRecord&)>& after_epoch) {
  const int64_t batch = experiment_.trainer.batch_size;
  const int64_t samples = train_->size();
  const int64_t steps = (samples + batch - 1) / batch;
  const int64_t epochs = experiment_.trainer.epochs;
  std::vector<EpochRecord> history;
  std::iota(order_.begin(), order_.end(), 0u);

  for (int64_t epoch = 1; epoch <= epochs; ++epoch) {
    const auto epoch_start = Clock::now();
    progress.epoch_begin(epoch, epochs, steps, metric_names_);
    // Keras reshuffles the whole training set every epoch.
    if (experiment_.trainer.shuffle) shuffle_random_.shuffle(std::span<uint32_t>(order_));

    double loss_sum = 0;
    int64_t seen = 0;
    reset_metrics();
    for (int64_t step = 0; step < steps; ++step) {
      const int64_t begin = step * batch;
      const int64_t size = std::min(batch, samples - begin);
      const std::span<const uint32_t> indices(order_.data() + begin, size_t(size));
      train_step(indices);
      const BoundPlan& plan = size == batch ? train_full_ : train_tail_;
      loss_sum += double(*plan.loss) * double(size);
      seen += size;
      update_metrics(plan, *train_, indices);
      for (size_t m = 0; m < metrics_.size(); ++m) running_metrics_[m] = metrics_[m]->result();
      progress.step_end(step + 1, loss_sum / double(seen), running_metrics_);
    }
    const double train_seconds = seconds_since(epoch_start);

    EpochRecord record{
        .epoch = epoch, .loss = loss_sum / double(seen), .metrics = running_metrics_};
    if (test_) {
      Evaluation evaluation = evaluate(*test_);
      record.test_loss = evaluation.loss;
      record.test_metrics = std::move(evaluation.metrics);
      record.has_test = true;
    }
    record.seconds = seconds_since(epoch_start);
    record.samples_per_second = double(seen) / train_seconds;
    history.push_back(record);
    progress.epoch_end(record);
    optimizer_->epoch_end(named_values(record, metric_names_));
    if (after_epoch) after_epoch(record);
  }
  return history;
}

Evaluation Trainer::evaluate(const Dataset& dataset) {
  const int64_t batch = std::min(experiment_.trainer.batch_size, dataset.size());
  // Plans are compiled before the loop: the constructor made them for the test set; another
  // dataset may need its own.
  evaluation_plan_for(batch);
  if (const int64_t tail = dataset.size() % batch; tail > 0) evaluation_plan_for(tail);
  std::vector<uint32_t> indices(static_cast<size_t>(dataset.size()));
  std::iota(indices.begin(), indices.end(), 0u);
  double loss_sum = 0;
  reset_metrics();
  for (int64_t begin = 0; begin < dataset.size(); begin += batch) {
    const int64_t size = std::min(batch, dataset.size() - begin);
    BoundPlan& current = evaluation_plan_for(size);
    const std::span<const uint32_t> chunk(indices.data() + begin, size_t(size));
    load_batch(current, dataset, chunk);
    current.plan->run();
    loss_sum += double(*current.loss) * double(size);
    update_metrics(current, dataset, chunk);
  }
  const auto samples = dataset.size();
  Evaluation evaluation{.loss = loss_sum / double(samples), .samples = samples};
  for (const auto& metric : metrics_) evaluation.metrics.push_back(metric->result());
  return evaluation;
}

}  // namespace loom
