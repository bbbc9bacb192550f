#include "engine/train/session.hpp"

#include <cstring>
#include <numeric>

#include "engine/config/build_graph.hpp"
#include "engine/core/error.hpp"
#include "engine/train/batching.hpp"
#include "engine/train/checkpoint.hpp"
#include "engine/train/safetensors.hpp"

namespace loom {

Session::Session(Experiment experiment) : experiment_(std::move(experiment)) {
  if (experiment_.checked_training_graph) {
    graphs_.emplace(Key{Purpose::training, experiment_.trainer.batch_size},
                    experiment_.checked_training_graph);
  }
}

const Graph& Session::graph(Purpose purpose, int64_t batch) {
  auto found = graphs_.find({purpose, batch});
  if (found == graphs_.end()) {
    Graph graph = purpose == Purpose::training ? build_training_graph(experiment_, batch)
                                               : build_evaluation_graph(experiment_, batch);
    found = graphs_.emplace(Key{purpose, batch}, std::make_shared<Graph>(std::move(graph))).first;
  }
  return *found->second;
}

// Any graph will do (see parameters()): one already built, else the inference graph every
// evaluation of a full batch uses.
int64_t Session::classes() {
  if (classes_ == 0) {
    const Graph& any = graphs_.empty() ? graph(Purpose::inference, experiment_.trainer.batch_size)
                                       : *graphs_.begin()->second;
    classes_ = any.value(*any.prediction()).type.shape[1];
  }
  return classes_;
}

ParameterStore& Session::parameters() {
  if (!parameters_ready_) {
    const Graph& any = graphs_.empty() ? graph(Purpose::inference, experiment_.trainer.batch_size)
                                       : *graphs_.begin()->second;
    parameters_.initialize_from(any, experiment_.seed);
    parameters_ready_ = true;
  }
  return parameters_;
}

const std::vector<std::string>& Session::trainable_parameters() {
  if (trainable_.empty()) {
    const Graph& training = graph(Purpose::training, experiment_.trainer.batch_size);
    for (const ParameterGradient& g : training.parameter_gradients()) {
      trainable_.push_back(training.value(g.parameter).name);
    }
  }
  return trainable_;
}

BoundPlan& Session::plan(Purpose purpose, int64_t batch) {
  if (const auto found = plans_.find({purpose, batch}); found != plans_.end()) {
    return found->second;
  }
  BoundPlan bound = bind(graph(purpose, batch), batch);
  if (purpose == Purpose::training) bind_gradients(bound);
  return plans_.emplace(Key{purpose, batch}, std::move(bound)).first->second;
}

BoundPlan Session::bind(const Graph& graph, int64_t batch) {
  BoundPlan bound;
  bound.batch = batch;
  // The plan takes a copy: negotiating layouts adds reorder nodes to its own graph, and the
  // cached one stays the pure function of (experiment, batch, purpose).
  bound.plan = std::make_unique<Plan>(Graph(graph), parameters(), runtime_);
  const Plan& plan = *bound.plan;
  bound.images = plan.f32(plan.graph().value_named(experiment_.model.input.name));
  bound.labels = plan.address(plan.graph().value_named(kLabelsValue));
  bound.loss = plan.f32(*plan.graph().loss());
  bound.prediction = plan.f32(*plan.graph().prediction());
  return bound;
}

// Each batch size has its own graph: its gradients are matched to the optimizer's parameter
// order by name, once, here.
void Session::bind_gradients(BoundPlan& bound) {
  const Graph& graph = bound.plan->graph();
  for (const std::string& name : trainable_parameters()) {
    const ValueId parameter = graph.value_named(name);
    const ParameterGradient* match = nullptr;
    for (const ParameterGradient& g : graph.parameter_gradients()) {
      if (g.parameter == parameter) match = &g;
    }
    if (!match) {
      throw RuntimeError("the plan for batch " + std::to_string(bound.batch) +
                         " has no gradient for '" + name + "'");
    }
    bound.gradients.push_back(bound.plan->f32(match->gradient));
    bound.gradient_writers.push_back(size_t(graph.value(match->gradient).producer));
  }
}

void Session::load_weights(const std::filesystem::path& checkpoint) {
  const SafetensorsFile file = SafetensorsFile::read(checkpoint);
  load_weights_from(file, parameters());
  class_names_ = class_names_from(file);
}

void Session::load_batch(const BoundPlan& plan, const Dataset& data,
                         std::span<const uint32_t> indices) {
  gather_batch(data, indices, plan.images, plan.labels);
}

void Session::prepare_inference(int64_t samples) {
  const BatchSplit split = BatchSplit::of(experiment_.trainer.batch_size, samples);
  if (split.batch > 0) plan(Purpose::inference, split.batch);
  if (split.tail > 0) plan(Purpose::inference, split.tail);
}

void Session::infer(const Dataset& data, Shard part,
                    const std::function<void(const InferenceBatch&)>& consume) {
  prepare_inference(part.size());
  const BatchSplit split = BatchSplit::of(experiment_.trainer.batch_size, part.size());
  std::vector<uint32_t> indices(size_t(part.size()));
  std::iota(indices.begin(), indices.end(), uint32_t(part.begin));
  const int64_t classes = this->classes();
  for (int64_t step = 0; step < split.steps; ++step) {
    const int64_t size = split.size_of(step);
    BoundPlan& current = plan(Purpose::inference, size);
    const std::span<const uint32_t> chunk(indices.data() + step * split.batch, size_t(size));
    load_batch(current, data, chunk);
    current.plan->run();
    consume({.first = step * split.batch,
             .indices = chunk,
             .predictions = current.prediction,
             .classes = classes,
             .labels = current.labels,
             .loss = double(*current.loss)});
  }
}

}  // namespace loom
