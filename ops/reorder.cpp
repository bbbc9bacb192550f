// reorder(x): the same tensor in another memory layout. The layout pass (engine/exec/layout.hpp)
// inserts it where a value's layout and its reader's differ; users never write it. Its
// gradient is never asked for: layouts are assigned after autodiff, when the plan is built.

#include <algorithm>

#include "engine/exec/compile_context.hpp"
#include "engine/exec/primitive_kernel.hpp"

namespace loom {

namespace {

class Reorder final : public Op {
 public:
  std::string_view name() const override { return "reorder"; }
  OpSignature signature() const override { return {.inputs = {"x"}, .internal = true}; }

  std::vector<TensorType> infer(const Node&, std::span<const TensorType> inputs) const override {
    return {inputs[0]};
  }

  // A layout is not part of a value's logical contents: over plain tensors it is the identity.
  // It appears in plans' forward passes, so a checker walking a plan's graph may meet it.
  bool has_reference() const override { return true; }
  void reference(const ReferenceCall& call) const override {
    std::ranges::copy(call.inputs[0], call.outputs[0].begin());
  }

  // Each side's descriptor, in the dims of whichever side is not plain (both native sides
  // share their dims: the pass goes through plain otherwise).
  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const Layout& from = context.layout(node.inputs[0]);
    const Layout& to = context.layout(node.outputs[0]);
    if (from.is_plain() == to.is_plain() && from.is_plain()) {
      fail_node(node, "both sides of the reorder are plain");
    }
    const dnnl::memory::desc source = from.is_plain() ? to.plain_view() : from.native();
    const dnnl::memory::desc destination = to.is_plain() ? from.plain_view() : to.native();
    return make_reorder_kernel(context, node.inputs[0], source, node.outputs[0], destination);
  }
};

}  // namespace

void register_reorder(OpRegistry& registry) {
  registry.add(std::make_unique<Reorder>());
}

}  // namespace loom
