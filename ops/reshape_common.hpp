#pragma once
// What the ops that only change a tensor's shape share (reshape, flatten): the values stay as
// they are, so the memory planner lets the output share the input's buffer when nothing else
// reads the input, and the kernel then does nothing (it copies otherwise); the gradient is dy
// reshaped back to the input's shape.

#include <algorithm>

#include "engine/exec/compile_context.hpp"
#include "engine/exec/loop_kernel.hpp"
#include "engine/graph/op.hpp"

namespace loom {

class ReshapingOp : public Op {
 public:
  std::optional<size_t> in_place_input(const Node&) const override { return 0; }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    return make_copy_kernel(context.address(node.inputs[0]), context.address(node.outputs[0]),
                            size_t(context.type(node.inputs[0]).bytes()));
  }

  // The same values, in the same row-major order, under the output's shape.
  bool has_reference() const override { return true; }
  void reference(const ReferenceCall& call) const override {
    std::ranges::copy(call.inputs[0], call.outputs[0].begin());
  }

  std::vector<std::optional<ValueId>> gradient(GradientBuilder& builder,
                                               const GradientRequest& request) const override {
    const Shape& shape = builder.graph().value(request.node.inputs[0]).type.shape;
    return {builder.emit(request.node, "reshape", {request.output_gradient()}, {{"shape", shape}})};
  }
};

}  // namespace loom
