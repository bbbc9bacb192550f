// l2_penalty(w) with attribute factor: factor·Σ w² (Keras's L2 regularizer), a scalar added to
// the loss. The gradient is 2·factor·w·dloss.

#include "engine/exec/compile_context.hpp"
#include "engine/exec/loop_kernel.hpp"
#include "engine/graph/op.hpp"

namespace loom {

namespace {

class L2Penalty final : public Op {
 public:
  std::string_view name() const override { return "l2_penalty"; }
  OpSignature signature() const override {
    return {.inputs = {"w"},
            .attributes = {{"factor", AttributeKind::real, "the penalty per squared weight"}}};
  }
  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override {
    expect_dtype(node, inputs, 0, DType::f32);
    if (node.attributes.get_real("factor", 0.0) < 0) fail_node(node, "factor must be >= 0");
    return {TensorType{DType::f32, {}}};
  }
  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const float* w = context.f32(node.inputs[0]);
    float* penalty = context.f32(node.outputs[0]);
    const int64_t count = context.type(node.inputs[0]).numel();
    const double factor = node.attributes.get_real("factor", 0.0);
    return make_loop_kernel([=] {
      double total = 0;
#pragma omp simd reduction(+ : total)
      for (int64_t i = 0; i < count; ++i) total += double(w[i]) * double(w[i]);
      *penalty = float(factor * total);
    });
  }
  bool has_reference() const override {
    return true;
  }
  void reference(const ReferenceCall& call) const override {
    double total = 0;
    for (const double w : call.inputs[0]) total += w * w;
    call.outputs[0][0] = call.node.attributes.get_real("factor", 0.0) * total;
  }
  std::vector<std::optional<ValueId>> gradient(GradientBuilder& builder,
                                               const GradientRequest& request) const override {
    const Node& node = request.node;
    const ValueId scaled = builder.emit(node, "scale", {node.inputs[0]},
                                        {{"factor", 2 * node.attributes.get_real("factor", 0.0)}});
    return {builder.emit(node, "mul", {scaled, request.output_gradient()})};
  }
};

}  // namespace

void register_l2_penalty(OpRegistry& registry) {
  registry.add(std::make_unique<L2Penalty>());
}

}  // namespace loom
