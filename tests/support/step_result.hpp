#pragma once
// A training step's outcome as a compiled plan left it: the loss and every parameter gradient,
// copied out so that two plans (layouts, thread counts) can be compared.

#include <vector>

#include "engine/exec/plan.hpp"

namespace loom::testing {

struct StepResult {
  float loss = 0;
  std::vector<std::vector<float>> gradients;  // in graph.parameter_gradients() order
};

inline StepResult read_step_result(const Plan& plan, const Graph& graph) {
  StepResult result{.loss = *plan.f32(*graph.loss())};
  for (const ParameterGradient& g : graph.parameter_gradients()) {
    const float* data = plan.f32(g.gradient);
    result.gradients.emplace_back(data, data + graph.value(g.gradient).type.numel());
  }
  return result;
}

}  // namespace loom::testing
