#include "engine/check/gradient_check.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/check/finite_differences.hpp"
#include "engine/check/probe_loss.hpp"
#include "engine/check/reference_evaluator.hpp"
#include "engine/config/build_graph.hpp"
#include "engine/config/read_data.hpp"
#include "engine/core/random.hpp"
#include "engine/data/dataset.hpp"
#include "engine/exec/plan.hpp"
#include "engine/graph/autodiff.hpp"
#include "engine/graph/op.hpp"

namespace loom {

namespace {

// How closely a float32 kernel must reproduce its op's reference forward, relative to the
// size of the tensor it computes: far above a kernel's rounding, far below a wrong formula.
constexpr double kForwardAgreement = 1e-4;

std::string input_name(size_t i) {
  return "in" + std::to_string(i);
}

// The graph: differentiable inputs are trainable parameters; the others are plain inputs.
struct BuiltGraph {
  Graph graph;
  std::vector<ValueId> inputs;
  std::vector<ValueId> outputs;
  std::vector<ValueId> probed;  // the outputs the probe loss reads
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
  const size_t readable = built.outputs.size() - op.signature().auxiliary_outputs;
  for (size_t k = 0; k < readable; ++k) built.graph.add_output(built.outputs[k]);
  if (!with_loss) return built;

  std::vector<ValueId> losses;
  for (size_t k = 0; k < readable; ++k) {
    const TensorType& type = built.graph.value(built.outputs[k]).type;
    if (type.dtype != DType::f32) continue;
    const ValueId weights = built.graph.add_parameter("probe_weights" + std::to_string(k), type, {},
                                                      /*trainable=*/false);
    built.probed.push_back(built.outputs[k]);
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
    const std::vector<float> values =
        random_values(std::ssize(weights), derive_seed(test.seed, 1000 + k));
    std::copy(values.begin(), values.end(), weights.begin());
  }
  auto plan = std::make_unique<Plan>(built.graph, store, runtime);
  for (size_t i = 0; i < test.inputs.size(); ++i) {
    write_values(test.inputs[i], plan->address(built.inputs[i]));
  }
  return plan;
}

// Gives the evaluator the plan's sources: parameters from the store, inputs and labels from
// the plan's buffers (plain, as the data pipeline writes them).
void load_sources(ReferenceEvaluator& evaluator, const Graph& graph, const ParameterStore& store,
                  const Plan& plan) {
  for (size_t v = 0; v < graph.values().size(); ++v) {
    const Value& value = graph.value(ValueId(v));
    if (value.role == ValueRole::constant || value.role == ValueRole::intermediate) continue;
    const std::span<double> target = evaluator.source(ValueId(v));
    if (target.empty()) continue;  // the loss does not depend on it
    if (value.role == ValueRole::parameter) {
      std::ranges::copy(store.at(value.name), target.begin());
    } else if (value.type.dtype == DType::i32) {
      std::copy_n(plan.i32(ValueId(v)), target.size(), target.begin());
    } else {
      std::copy_n(plan.f32(ValueId(v)), target.size(), target.begin());
    }
  }
}

// The compiled forward must compute the reference's function before its gradient is judged
// against the reference's differences.
void expect_forward_agreement(const Plan& plan, const ReferenceEvaluator& evaluator, ValueId value,
                              const std::string& what) {
  const std::span<const double> expected = evaluator.value(value);
  const float* actual = plan.f32(value);
  double scale = 1;
  for (double e : expected) scale = std::max(scale, std::abs(e));
  for (size_t i = 0; i < expected.size(); ++i) {
    if (std::abs(double(actual[i]) - expected[i]) <= kForwardAgreement * scale) continue;
    throw RuntimeError(what +
                       ": the compiled kernel and the op's reference forward disagree at "
                       "element " +
                       std::to_string(i) + " (kernel " + std::to_string(actual[i]) +
                       ", reference " + std::to_string(expected[i]) +
                       "), so no gradient can be judged");
  }
}

const ParameterGradient* gradient_of(const Graph& graph, ValueId parameter) {
  for (const ParameterGradient& g : graph.parameter_gradients()) {
    if (g.parameter == parameter) return &g;
  }
  return nullptr;
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
                                            const GradientTolerance& tolerance, int64_t elements) {
  BuiltGraph built = build(test, true);
  ParameterStore store;
  Runtime runtime;
  const auto plan = compile(built, test, store, runtime);
  ReferenceEvaluator evaluator(built.graph, *built.graph.loss(), runtime.step);
  load_sources(evaluator, built.graph, store, *plan);
  plan->run();
  evaluator.evaluate();
  for (ValueId output : built.probed) {
    expect_forward_agreement(*plan, evaluator, output, "op '" + test.op + "'");
  }

  std::vector<GradientReport> reports;
  for (size_t i = 0; i < test.inputs.size(); ++i) {
    const Value& input = built.graph.value(built.inputs[i]);
    if (input.role != ValueRole::parameter) continue;
    GradientReport report;
    report.input = i;
    const ParameterGradient* gradient = gradient_of(plan->graph(), built.inputs[i]);
    if (!gradient) {
      report.failures = input.type.numel();  // no gradient at all
      reports.push_back(report);
      continue;
    }
    const std::span<const float> analytic(plan->f32(gradient->gradient),
                                          size_t(input.type.numel()));
    const std::vector<int64_t> checked =
        choose_elements(input.type.numel(), elements, derive_seed(test.seed, 2000 + i));
    static_cast<GradientErrors&>(report) =
        compare_with_finite_differences(evaluator, built.inputs[i], analytic, checked, tolerance);
    reports.push_back(report);
  }
  return reports;
}

std::vector<ParameterCheck> check_experiment_gradients(const Experiment& experiment, int64_t batch,
                                                       int64_t elements,
                                                       const GradientTolerance& tolerance) {
  const int64_t classes = class_count(experiment);
  const Dataset data =
      load_dataset(experiment.data.train, dataset_request(experiment, classes, nullptr));
  batch = std::min(batch, data.size());
  const Graph graph = build_training_graph(experiment, batch);
  ParameterStore store;
  store.initialize_from(graph, experiment.seed);
  Runtime runtime;
  Plan plan(graph, store, runtime);
  std::vector<uint32_t> indices(static_cast<size_t>(batch));
  std::iota(indices.begin(), indices.end(), 0u);
  gather_batch(data, indices, plan.f32(graph.value_named(experiment.model.input.name)),
               plan.address(graph.value_named(kLabelsValue)));
  ReferenceEvaluator evaluator(graph, *graph.loss(), runtime.step);
  load_sources(evaluator, graph, store, plan);
  plan.run();
  evaluator.evaluate();
  expect_forward_agreement(plan, evaluator, *graph.loss(), "the loss");

  std::vector<ParameterCheck> checks;
  for (const ParameterGradient& gradient : graph.parameter_gradients()) {
    const Value& parameter = graph.value(gradient.parameter);
    ParameterCheck check;
    check.parameter = parameter.name;
    check.shape = parameter.type.shape;
    const std::span<const float> analytic(plan.f32(gradient.gradient),
                                          size_t(parameter.type.numel()));
    const std::vector<int64_t> checked =
        choose_elements(parameter.type.numel(), elements,
                        derive_seed(experiment.seed, uint64_t(gradient.parameter)));
    static_cast<GradientErrors&>(check) = compare_with_finite_differences(
        evaluator, gradient.parameter, analytic, checked, tolerance);
    checks.push_back(check);
  }
  return checks;
}

}  // namespace loom
