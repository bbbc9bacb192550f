#pragma once
// From a validated experiment to graphs for a given batch size. The graph is a pure function
// of (experiment, batch, purpose), so the plan for a last partial batch is simply another
// graph built with a smaller batch; all of them share one ParameterStore.

#include "engine/config/experiment.hpp"
#include "engine/graph/graph.hpp"

namespace loom {

// Forward, loss (softmax + crossentropy fused), generated backward pass, dead nodes pruned.
Graph build_training_graph(const Experiment& experiment, int64_t batch);
// Forward and loss only: what evaluation runs.
Graph build_evaluation_graph(const Experiment& experiment, int64_t batch);

// The names every graph built here uses for its data values.
inline constexpr const char* kLabelsValue = "labels";

int64_t class_count(const Experiment& experiment);  // the model output's last dimension

}  // namespace loom
