#pragma once
// The training loop: plans compiled once per batch size, a seeded shuffle each epoch, one
// optimizer step per batch, the loss and the metrics tracked as Keras does (means weighted
// by batch size), and an evaluation of the test set after every epoch that counts every image.

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "engine/config/experiment.hpp"
#include "engine/core/random.hpp"
#include "engine/data/dataset.hpp"
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
};

class Trainer {
 public:
  // Loads the datasets and compiles the plans; bad data files throw InputError here.
  explicit Trainer(Experiment experiment);

  // Runs trainer.epochs epochs; `after_epoch` sees each record (history files, logging).
  std::vector<EpochRecord> fit(ProgressReporter& progress,
                               const std::function<void(const EpochRecord&)>& after_epoch = {});

  // One optimizer step on the given samples of the training set: the three phases below.
  void train_step(std::span<const uint32_t> indices) {
    BoundPlan& plan = training_plan_for(std::ssize(indices));
    load_batch(plan, *train_, indices);
    plan.plan->run();
    optimizer_->step(plan.gradients);
  }
  // The phases of a step, separately (benchmarks time them one by one).
  BoundPlan& training_plan_for(int64_t batch);
  void load_batch(const BoundPlan& plan, const Dataset& data, std::span<const uint32_t> indices);
  void apply_gradients(const BoundPlan& plan) { optimizer_->step(plan.gradients); }
  // The forward-only plan for `batch` samples, compiled on first request.
  BoundPlan& evaluation_plan_for(int64_t batch);
  Evaluation evaluate(const Dataset& dataset);

  const Experiment& experiment() const { return experiment_; }
  std::span<const std::string> metric_names() const { return metric_names_; }
  const Dataset& train_data() const { return *train_; }
  const std::optional<Dataset>& test_data() const { return test_; }
  ParameterStore& parameters() { return parameters_; }
  Optimizer& optimizer() { return *optimizer_; }
  const BoundPlan& training_plan() const { return train_full_; }

 private:
  BoundPlan bind(Graph graph, int64_t batch);
  BoundPlan bind_training_plan(int64_t batch);
  BoundPlan bind_evaluation_plan(int64_t batch);
  void update_metrics(const BoundPlan& plan, const Dataset& data,
                      std::span<const uint32_t> indices);
  void reset_metrics();
  void check_monitored_metric() const;

  Experiment experiment_;
  int64_t classes_;
  std::optional<Dataset> train_;
  std::optional<Dataset> test_;
  Runtime runtime_;
  ParameterStore parameters_;
  std::unique_ptr<Optimizer> optimizer_;
  std::vector<std::string> parameter_order_;
  BoundPlan train_full_, train_tail_;
  std::vector<std::unique_ptr<BoundPlan>> evaluation_plans_;  // one per batch size seen
  Random shuffle_random_;
  std::vector<uint32_t> order_;
  std::vector<std::unique_ptr<Metric>> metrics_;
  std::vector<std::string> metric_names_;
  std::vector<double> running_metrics_;  // reused every step for the progress display
};

}  // namespace loom
