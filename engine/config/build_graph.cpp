#include "engine/config/build_graph.hpp"

#include <unistd.h>

#include "engine/core/error.hpp"
#include "engine/graph/autodiff.hpp"
#include "engine/graph/passes.hpp"

namespace loom {

namespace {

// Re-throws a build error prefixed with the config position it came from.
template <typename Step>
auto at(const std::string& where, Step step) {
  try {
    return step();
  } catch (const InputError& error) {
    throw InputError(where + ": " + error.what());
  }
}

// A parameter larger than the machine's memory is a typo in the config (a units count with
// three zeros too many), not something to hand to the allocator.
void expect_fits_in_memory(const ParameterSpec& parameter) {
  const TensorType type{DType::f32, parameter.shape};
  const int64_t memory = int64_t(sysconf(_SC_PHYS_PAGES)) * int64_t(sysconf(_SC_PAGE_SIZE));
  if (memory > 0 && type.bytes() > memory) {
    constexpr double kMiB = 1024.0 * 1024.0;
    throw InputError("parameter '" + parameter.name + "' " + to_string(type) + " needs " +
                     std::to_string(int64_t(double(type.bytes()) / kMiB)) +
                     " MiB, more than this machine's " +
                     std::to_string(int64_t(double(memory) / kMiB)) + " MiB of memory");
  }
}

Graph build_forward(const Experiment& experiment, int64_t batch) {
  const ModelSpec& model = experiment.model;
  Graph graph;
  Shape input_shape = {batch};
  input_shape.insert(input_shape.end(), model.input.shape.begin(), model.input.shape.end());
  // The batch times the sample's size is checked here (numel), at the input's position.
  at(model.input.where, [&] {
    return graph.add_input(model.input.name, {DType::f32, input_shape});
  });
  for (const ParameterSpec& parameter : model.parameters) {
    at(parameter.where, [&] {
      expect_fits_in_memory(parameter);
      return graph.add_parameter(parameter.name, {DType::f32, parameter.shape},
                                 parameter.initializer, parameter.trainable);
    });
  }
  for (const NodeSpec& node : model.nodes) {
    at(node.where, [&] {
      std::vector<ValueId> inputs;
      for (const std::string& input : node.inputs) {
        const auto id = graph.find_value(input);
        if (!id) {
          throw InputError("node '" + node.name + "' (" + node.op + "): input '" + input +
                           "' is not defined");
        }
        inputs.push_back(*id);
      }
      return graph.add_node(node.name, node.op, std::move(inputs), node.attributes);
    });
  }
  const ValueId prediction = graph.value_named(model.output);
  const TensorType& type = graph.value(prediction).type;
  if (type.rank() != 2 || type.dtype != DType::f32) {
    throw InputError(model.output_where + ": the model output '" + model.output + "' is " +
                     to_string(type) + "; classification losses need f32[batch, classes]");
  }
  graph.set_prediction(prediction);
  return graph;
}

void add_loss(Graph& graph, const Experiment& experiment) {
  const ValueId prediction = *graph.prediction();
  const TensorType& predicted = graph.value(prediction).type;
  const bool sparse = experiment.trainer.loss.targets == TargetFamily::class_index;
  const TensorType label_type = sparse ? TensorType{DType::i32, {predicted.shape[0]}} : predicted;
  const ValueId labels = graph.add_input(kLabelsValue, label_type, ValueRole::label);
  const LossSpec& loss = experiment.trainer.loss;
  const ValueId data_loss = at(loss.where, [&] {
    return graph.add_node1(graph.unique_name("loss"), loss.name, {prediction, labels},
                           loss.attributes);
  });
  // Regularization penalties add to the loss the optimizer minimizes and the user sees, as
  // in Keras.
  std::vector<ValueId> terms = {data_loss};
  for (const ParameterSpec& parameter : experiment.model.parameters) {
    if (parameter.l2 <= 0.0) continue;
    terms.push_back(graph.add_node1(graph.unique_name(parameter.name + "/l2"), "l2_penalty",
                                    {graph.value_named(parameter.name)},
                                    {{"factor", parameter.l2}}));
  }
  graph.set_loss(terms.size() == 1
                     ? data_loss
                     : graph.add_node1(graph.unique_name("total_loss"), "add", terms));
}

}  // namespace

Graph build_evaluation_graph(const Experiment& experiment, int64_t batch) {
  Graph graph = build_forward(experiment, batch);
  add_loss(graph, experiment);
  fuse_softmax_crossentropy(graph);
  fuse_matmul_bias_activation(graph);
  fuse_conv_relu(graph);
  return graph;
}

Graph build_training_graph(const Experiment& experiment, int64_t batch) {
  Graph graph = build_evaluation_graph(experiment, batch);
  graph.set_training(true);
  differentiate(graph);
  if (graph.parameter_gradients().empty()) {
    throw InputError(
        experiment.source.string() +
        ": model: no trainable parameter reaches the loss, so there is nothing to train");
  }
  fuse_max_pool_relu_backward(graph);
  prune_dead_nodes(graph);
  return graph;
}

int64_t class_count(const Experiment& experiment) {
  const Graph graph = build_forward(experiment, 1);
  return graph.value(*graph.prediction()).type.shape[1];
}

}  // namespace loom
