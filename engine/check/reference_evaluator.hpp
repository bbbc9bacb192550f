#pragma once
// A graph's forward pass in double precision, through each op's reference forward
// (Op::reference): plain loops over plain row-major tensors, no oneDNN, no layouts, no plan.
// The gradient checker takes its finite differences here, where a step of 1e-6 is still far
// above rounding noise, so neither a large step (which crosses a relu's corner) nor float32
// cancellation decides a verdict.
//
// Only the nodes the target value depends on run; after one source element changes, only the
// nodes downstream of that source run again (the others keep their values).

#include <span>
#include <unordered_map>
#include <vector>

#include "engine/graph/graph.hpp"

namespace loom {

class ReferenceEvaluator {
 public:
  // `step` is the training step dropout's masks are drawn for (Runtime::step). Throws
  // InputError naming the first node the target depends on whose op has no reference.
  ReferenceEvaluator(const Graph& graph, ValueId target, int64_t step = 0);

  // A source value (parameter, input, label or constant; constants start at their fill):
  // write it before evaluate().
  std::span<double> source(ValueId value);
  std::span<const double> value(ValueId value) const;

  // Runs every node the target depends on; returns the target's first element.
  double evaluate();
  // Runs only the nodes downstream of `changed` (a source); returns the target's first
  // element. evaluate() must have run once before.
  double evaluate_after_change(ValueId changed);

 private:
  void run(NodeId id);
  const std::vector<NodeId>& downstream_of(ValueId source);

  const Graph& graph_;
  ValueId target_;
  int64_t step_;
  bool training_;
  std::vector<NodeId> needed_;  // in the graph's (topological) order
  std::vector<std::vector<double>> values_;
  std::unordered_map<ValueId, std::vector<NodeId>> downstream_;
};

}  // namespace loom
