#include "engine/exec/plan.hpp"

#include <omp.h>

#include <algorithm>

#include "engine/exec/compile_context.hpp"

namespace loom {

namespace {

std::vector<ValueId> values_read_after_run(const Graph& graph) {
  std::vector<ValueId> pinned;
  if (graph.loss()) pinned.push_back(*graph.loss());
  if (graph.prediction()) pinned.push_back(*graph.prediction());
  for (const ParameterGradient& g : graph.parameter_gradients()) pinned.push_back(g.gradient);
  pinned.insert(pinned.end(), graph.outputs().begin(), graph.outputs().end());
  return pinned;
}

// A node's kernel followed by a hook.
class HookedKernel final : public Kernel {
 public:
  HookedKernel(std::unique_ptr<Kernel> kernel, std::function<void()> hook)
      : kernel_(std::move(kernel)), hook_(std::move(hook)) {}
  void run() override {
    kernel_->run();
    hook_();
  }
  std::string implementation() const override { return kernel_->implementation(); }

 private:
  std::unique_ptr<Kernel> kernel_;
  std::function<void()> hook_;
};

std::vector<int64_t> value_bytes(const Graph& graph, const std::vector<Layout>& layouts) {
  std::vector<int64_t> bytes;
  for (size_t v = 0; v < graph.values().size(); ++v) {
    bytes.push_back(layouts[v].bytes(graph.values()[v].type.bytes()));
  }
  return bytes;
}

}  // namespace

int64_t planned_bytes(const Graph& graph) {
  int64_t total = plan_memory(graph, values_read_after_run(graph)).arena_bytes;
  for (const Value& value : graph.values()) {
    if (value.role != ValueRole::intermediate && value.role != ValueRole::parameter) {
      total += value.type.bytes();
    }
  }
  return total;
}

Plan::Plan(Graph graph, ParameterStore& parameters, Runtime& runtime)
    : graph_(std::move(graph)),
      layouts_(
          assign_layouts(graph_, runtime.engine, values_read_after_run(graph_), runtime.layouts)),
      memory_plan_(plan_memory(graph_, values_read_after_run(graph_),
                               value_bytes(graph_, layouts_.value_layouts))),
      arena_(static_cast<size_t>(memory_plan_.arena_bytes)),
      thread_slot_(&runtime.thread_slot) {
  addresses_.assign(graph_.values().size(), nullptr);
  for (size_t id = 0; id < graph_.values().size(); ++id) {
    const Value& value = graph_.values()[id];
    switch (value.role) {
      case ValueRole::parameter:
        addresses_[id] = parameters.at(value.name).data();
        break;
      case ValueRole::input:
      case ValueRole::label:
      case ValueRole::constant: {
        AlignedBuffer& buffer = owned_.emplace_back(static_cast<size_t>(value.type.bytes()));
        if (value.role == ValueRole::constant) {
          std::ranges::fill(buffer.floats(), value.fill);
        }
        addresses_[id] = buffer.data();
        break;
      }
      case ValueRole::intermediate:
        addresses_[id] = arena_.data() + memory_plan_.arena_offset[id];
        break;
    }
  }
  CompileContext context(runtime.engine, runtime.stream, graph_, addresses_, layouts_.value_layouts,
                         &runtime.step, scratchpad_);
  // oneDNN sizes a primitive's partition of work (and its scratchpad) for the OpenMP thread
  // count current when it is created.
  const int current_threads = omp_get_max_threads();
  for (const int threads : runtime.thread_counts) {
    omp_set_num_threads(threads);
    std::vector<std::unique_ptr<Kernel>>& kernels = kernel_sets_.emplace_back();
    for (const Node& node : graph_.nodes()) kernels.push_back(node.op->compile(node, context));
  }
  omp_set_num_threads(current_threads);
  scratchpad_.allocate();
}

void Plan::after_node(size_t i, std::function<void()> hook) {
  for (std::vector<std::unique_ptr<Kernel>>& kernels : kernel_sets_) {
    kernels.at(i) = std::make_unique<HookedKernel>(std::move(kernels.at(i)), hook);
  }
}

int64_t Plan::owned_bytes() const {
  int64_t total = static_cast<int64_t>(arena_.bytes());
  for (const AlignedBuffer& buffer : owned_) total += static_cast<int64_t>(buffer.bytes());
  return total;
}

}  // namespace loom
