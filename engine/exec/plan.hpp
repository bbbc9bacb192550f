#pragma once
// A compiled graph: every node turned once into a kernel bound to planned memory.
// run() is the training (or evaluation) step's whole cost: a loop over kernels.

#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "engine/core/aligned_buffer.hpp"
#include "engine/exec/kernel.hpp"
#include "engine/exec/layout.hpp"
#include "engine/exec/memory_plan.hpp"
#include "engine/exec/parameter_store.hpp"
#include "engine/exec/runtime.hpp"
#include "engine/exec/shared_scratchpad.hpp"
#include "engine/graph/graph.hpp"
#include "engine/graph/op.hpp"

namespace loom {

// The bytes a Plan of `graph` would allocate (its arena and its own input, label and constant
// buffers), from the memory plan alone, with plain layouts (blocked formats may pad channels a
// little more). Allocates nothing: the trainer checks a job fits before building plans.
int64_t planned_bytes(const Graph& graph);

class Plan {
 public:
  // Parameters bind to `parameters` (which must already hold them); inputs, labels and
  // constants get buffers of their own; intermediates share the planned arena. Layouts are
  // negotiated first (layout.hpp, by runtime.layouts), which may add reorder nodes.
  Plan(Graph graph, ParameterStore& parameters, Runtime& runtime);

  // The kernels compiled for the runtime's current thread count, in order.
  void run() {
    for (const auto& kernel : kernel_sets_[*thread_slot_]) kernel->run();
  }
  // Runs `hook` right after node i, every time the node runs (data-parallel training starts
  // sending a gradient as soon as the backward pass has written it). Set up before running.
  void after_node(size_t i, std::function<void()> hook);
  // Runs node i alone (benchmarks time nodes one by one).
  void run_node(size_t i) { kernel_sets_[*thread_slot_][i]->run(); }
  const Kernel& kernel(size_t i) const { return *kernel_sets_[*thread_slot_][i]; }

  const Graph& graph() const { return graph_; }
  void* address(ValueId v) const { return addresses_[size_t(v)]; }
  float* f32(ValueId v) const { return static_cast<float*>(address(v)); }
  int32_t* i32(ValueId v) const { return static_cast<int32_t*>(address(v)); }
  const MemoryPlan& memory_plan() const { return memory_plan_; }
  const Layout& layout(ValueId v) const { return layouts_.value_layouts[size_t(v)]; }
  int reorders() const { return layouts_.reorders; }  // reorder nodes the layouts needed
  int64_t owned_bytes() const;
  // The scratchpad the plan's oneDNN primitives share (not in owned_bytes: planned_bytes
  // cannot know it before the primitives exist).
  int64_t scratchpad_bytes() const { return static_cast<int64_t>(scratchpad_.bytes()); }

 private:
  Graph graph_;
  LayoutAssignment layouts_;
  MemoryPlan memory_plan_;
  AlignedBuffer arena_;
  std::vector<AlignedBuffer> owned_;  // inputs, labels, constants
  std::vector<void*> addresses_;
  SharedScratchpad scratchpad_;
  // One kernel per node for each of the runtime's thread counts (threads.hpp), all bound to
  // the same buffers; the runtime's slot says which set runs.
  std::vector<std::vector<std::unique_ptr<Kernel>>> kernel_sets_;
  const size_t* thread_slot_;
};

}  // namespace loom
