#include "engine/check/gradient_check.hpp"

#include <algorithm>
#include <cmath>
#include <mutex>
#include <numeric>

#include "engine/config/build_graph.hpp"
#include "engine/core/random.hpp"
#include "engine/data/dataset.hpp"
#include "engine/exec/compile_context.hpp"
#include "engine/exec/loop_kernel.hpp"
#include "engine/exec/plan.hpp"
#include "engine/graph/autodiff.hpp"
#include "engine/graph/op.hpp"

namespace loom {

namespace {

// gradcheck_probe_loss(y, r) = Σ y·r, accumulated in double.
class ProbeLoss final : public Op {
 public:
  std::string_view name() const override { return "gradcheck_probe_loss"; }
  OpSignature signature() const override { return {.inputs = {"y", "r"}, .internal = true}; }
  std::vector<TensorType> infer(const Node&, std::span<const TensorType>) const override {
    return {TensorType{DType::f32, {}}};
  }
  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const float* y = context.f32(node.inputs[0]);
    const float* r = context.f32(node.inputs[1]);
    float* loss = context.f32(node.outputs[0]);
    const int64_t count = context.type(node.inputs[0]).numel();
    return make_loop_kernel([=] {
      double total = 0;
      for (int64_t i = 0; i < count; ++i) total += double(y[i]) * double(r[i]);
      *loss = static_cast<float>(total);
    });
  }
  std::vector<std::optional<ValueId>> gradient(GradientBuilder& builder,
                                               const GradientRequest& request) const override {
    return {builder.emit(request.node, "gradcheck_probe_loss_backward",
                         {request.node.inputs[1], request.output_gradient()}),
            std::nullopt};
  }
};

// gradcheck_probe_loss_backward(r, dloss) = r · dloss.
class ProbeLossBackward final : public Op {
 public:
  std::string_view name() const override { return "gradcheck_probe_loss_backward"; }
  OpSignature signature() const override { return {.inputs = {"r", "dloss"}, .internal = true}; }
  std::vector<TensorType> infer(const Node&, std::span<const TensorType> inputs) const override {
    return {inputs[0]};
  }
  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const float* r = context.f32(node.inputs[0]);
    const float* dloss = context.f32(node.inputs[1]);
    float* dy = context.f32(node.outputs[0]);
    const int64_t count = context.type(node.inputs[0]).numel();
    return make_loop_kernel([=] {
      for (int64_t i = 0; i < count; ++i) dy[i] = r[i] * *dloss;
    });
  }
};

void register_probe_ops() {
  static std::once_flag once;
  std::call_once(once, [] {
    OpRegistry::global().add(std::make_unique<ProbeLoss>());
    OpRegistry::global().add(std::make_unique<ProbeLossBackward>());
  });
}

std::string input_name(size_t i) {
  return "in" + std::to_string(i);
}

// The graph: differentiable inputs are trainable parameters; the others are plain inputs.
struct BuiltGraph {
  Graph graph;
  std::vector<ValueId> inputs;
  std::vector<ValueId> outputs;
};

BuiltGraph build(const OpUnderTest& test, bool with_loss) {
  register_probe_ops();
  BuiltGraph built;
  for (size_t i = 0; i < test.inputs.size(); ++i) {
    const OpInput& input = test.inputs[i];
    built.inputs.push_back(input.differentiable && input.type.dtype == DType::f32
                               ? built.graph.add_parameter(input_name(i), input.type, {})
                               : built.graph.add_input(input_name(i), input.type));
  }
  built.graph.set_training(test.training);
  built.outputs = built.graph.add_node("under_test", test.op, built.inputs, test.attributes);
  // Only the outputs with gradients are read as tensors and probed (not masks, workspaces,
  // batch statistics, whose layout is the op's own).
  const Op& op = OpRegistry::global().get(test.op);
  const size_t probed = built.outputs.size() - op.signature().auxiliary_outputs;
  for (size_t k = 0; k < probed; ++k) built.graph.add_output(built.outputs[k]);
  if (!with_loss) return built;

  std::vector<ValueId> losses;
  for (size_t k = 0; k < probed; ++k) {
    const TensorType& type = built.graph.value(built.outputs[k]).type;
    if (type.dtype != DType::f32) continue;
    const ValueId weights = built.graph.add_parameter("probe_weights" + std::to_string(k), type, {},
                                                      /*trainable=*/false);
    losses.push_back(built.graph.add_node1("probe" + std::to_string(k), "gradcheck_probe_loss",
                                           {built.outputs[k], weights}));
  }
  const ValueId loss =
      losses.size() == 1 ? losses[0] : built.graph.add_node1("probe_sum", "add", losses);
  built.graph.set_loss(loss);
  differentiate(built.graph);
  return built;
}

void write_values(const OpInput& input, void* address) {
  if (input.type.dtype == DType::i32) {
    auto* out = static_cast<int32_t*>(address);
    for (size_t i = 0; i < input.values.size(); ++i) out[i] = static_cast<int32_t>(input.values[i]);
  } else {
    std::copy(input.values.begin(), input.values.end(), static_cast<float*>(address));
  }
}

// Sets up parameters and inputs of a plan from the test's values.
std::unique_ptr<Plan> compile(BuiltGraph& built, const OpUnderTest& test, ParameterStore& store,
                              Runtime& runtime) {
  store.initialize_from(built.graph, 7);
  for (size_t k = 0; k < built.outputs.size(); ++k) {
    const std::string name = "probe_weights" + std::to_string(k);
    if (!store.contains(name)) continue;
    const std::span<float> weights = store.at(name);
    const std::vector<float> values = random_values(std::ssize(weights), 1000 + k);
    std::copy(values.begin(), values.end(), weights.begin());
  }
  auto plan = std::make_unique<Plan>(built.graph, store, runtime);
  for (size_t i = 0; i < test.inputs.size(); ++i) {
    write_values(test.inputs[i], plan->address(built.inputs[i]));
  }
  return plan;
}

// Compares the analytic derivative at one element with central differences of the loss.
// When the one-sided differences disagree, the element is retried with half the step: on a
// smooth curve the disagreement (about h·f'') halves with the step and the half-step
// difference is used; so it is when a corner (a relu's kink) lies between half a step and a
// step away, where the disagreement vanishes. A corner within half a step keeps it: no finite
// difference is valid there, and the element is skipped and counted as a kink.
template <typename RunLoss>
void compare_element(float& element, float analytic, double center, const RunLoss& run_loss,
                     const GradientTolerance& tolerance, GradientErrors& errors) {
  const float original = element;
  const auto one_sided = [&](double step) {
    element = original + float(step);
    const double up = run_loss();
    element = original - float(step);
    const double down = run_loss();
    element = original;
    return std::pair{(up - center) / step, (center - down) / step};
  };
  auto [forward, backward] = one_sided(tolerance.step);
  double numeric = (forward + backward) / 2;
  double allowed = tolerance.absolute + tolerance.relative * std::abs(numeric);
  const double disagreement = std::abs(forward - backward);
  if (disagreement > allowed) {
    const auto [half_forward, half_backward] = one_sided(tolerance.step / 2);
    if (std::abs(half_forward - half_backward) > 0.75 * disagreement) {
      ++errors.kinks;
      return;
    }
    // Smooth, or a corner between half a step and a step away: the half step is valid.
    numeric = (half_forward + half_backward) / 2;
    allowed = tolerance.absolute + tolerance.relative * std::abs(numeric);
  }
  ++errors.checked;
  const double error = std::abs(numeric - analytic);
  errors.worst_absolute = std::max(errors.worst_absolute, error);
  errors.worst_relative =
      std::max(errors.worst_relative, error / std::max(std::abs(numeric), 1e-6));
  if (error > allowed) ++errors.failures;
}

}  // namespace

std::vector<float> random_values(int64_t count, uint64_t seed, float low, float high) {
  Random random(seed);
  std::vector<float> values(static_cast<size_t>(count));
  for (float& v : values) v = static_cast<float>(random.uniform(low, high));
  return values;
}

std::vector<float> random_values_away_from(int64_t count, uint64_t seed, float avoid, float gap) {
  std::vector<float> values = random_values(count, seed);
  for (float& v : values) {
    if (std::abs(v - avoid) < gap) v = v < avoid ? avoid - gap : avoid + gap;
  }
  return values;
}

OpInput f32_input(Shape shape, std::vector<float> values, bool differentiable) {
  return {TensorType{DType::f32, std::move(shape)}, std::move(values), differentiable};
}

OpInput i32_input(Shape shape, std::vector<float> values) {
  return {TensorType{DType::i32, std::move(shape)}, std::move(values), false};
}

std::vector<std::vector<float>> run_forward(const OpUnderTest& test) {
  BuiltGraph built = build(test, false);
  ParameterStore store;
  Runtime runtime;
  const auto plan = compile(built, test, store, runtime);
  plan->run();
  std::vector<std::vector<float>> outputs;
  for (ValueId output : built.outputs) {
    const TensorType& type = built.graph.value(output).type;
    const float* data = plan->f32(output);
    outputs.emplace_back(data, data + type.numel());
  }
  return outputs;
}

std::vector<GradientReport> check_gradients(const OpUnderTest& test,
                                            const GradientTolerance& tolerance) {
  BuiltGraph built = build(test, true);
  ParameterStore store;
  Runtime runtime;
  const auto plan = compile(built, test, store, runtime);
  const Graph& graph = plan->graph();
  const float* loss = plan->f32(*graph.loss());

  std::vector<GradientReport> reports;
  for (size_t i = 0; i < test.inputs.size(); ++i) {
    const Value& input = graph.value(built.inputs[i]);
    if (input.role != ValueRole::parameter) continue;
    GradientReport report;
    report.input = i;
    const ParameterGradient* gradient = nullptr;
    for (const ParameterGradient& g : graph.parameter_gradients()) {
      if (g.parameter == built.inputs[i]) gradient = &g;
    }
    if (!gradient) {
      report.failures = input.type.numel();  // no gradient at all
      reports.push_back(report);
      continue;
    }
    plan->run();
    const float* analytic_data = plan->f32(gradient->gradient);
    const std::vector<float> analytic(analytic_data, analytic_data + input.type.numel());

    const std::span<float> x = store.at(input.name);
    const auto run_loss = [&] {
      plan->run();
      return double(*loss);
    };
    const double center = run_loss();
    for (size_t j = 0; j < x.size(); ++j) {
      compare_element(x[j], analytic[j], center, run_loss, tolerance, report);
    }
    reports.push_back(report);
  }
  return reports;
}

}  // namespace loom

namespace loom {

std::vector<ParameterCheck> check_experiment_gradients(const Experiment& experiment, int64_t batch,
                                                       int64_t elements,
                                                       const GradientTolerance& tolerance) {
  const int64_t classes = class_count(experiment);
  const Dataset data = load_dataset(experiment.data.train, experiment.model.input.shape, classes);
  batch = std::min(batch, data.size());
  Graph graph = build_training_graph(experiment, batch);
  graph.set_training(false);  // dropout as the identity: the loss is a function of the weights
  ParameterStore store;
  store.initialize_from(graph, experiment.seed);
  Runtime runtime;
  Plan plan(graph, store, runtime);
  std::vector<uint32_t> indices(static_cast<size_t>(batch));
  std::iota(indices.begin(), indices.end(), 0u);
  gather_batch(
      data, indices, float(experiment.data.scale),
      {plan.f32(graph.value_named(experiment.model.input.name)),
       plan.address(graph.value_named(kLabelsValue)), experiment.trainer.loss.labels, classes});
  const float* loss = plan.f32(*graph.loss());

  std::vector<ParameterCheck> checks;
  for (const ParameterGradient& gradient : graph.parameter_gradients()) {
    const Value& parameter = graph.value(gradient.parameter);
    ParameterCheck check;
    check.parameter = parameter.name;
    check.shape = parameter.type.shape;
    plan.run();
    const std::span<float> weights = store.at(parameter.name);
    const std::vector<float> analytic(plan.f32(gradient.gradient),
                                      plan.f32(gradient.gradient) + weights.size());
    const auto count = std::ssize(weights);
    const int64_t sampled = std::min(elements, count);
    const auto run_loss = [&] {
      plan.run();
      return double(*loss);
    };
    const double center = run_loss();
    for (int64_t k = 0; k < sampled; ++k) {
      const auto j = size_t(k * count / sampled);  // evenly spread over the tensor
      compare_element(weights[j], analytic[j], center, run_loss, tolerance, check);
    }
    checks.push_back(check);
  }
  return checks;
}

}  // namespace loom
