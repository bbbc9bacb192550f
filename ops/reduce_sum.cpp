// reduce_sum: sums x over the listed axes and drops them (Keras's keepdims=False); the
// gradient spreads dy back over those axes.
// Summing over the leading axes (the bias gradient: Σ over the batch) is the engine's row-sum
// loop (see reduce_common.hpp); other axis sets use oneDNN's reduction.

#include <algorithm>

#include "engine/exec/compile_context.hpp"
#include "ops/reduce_common.hpp"

namespace loom {

namespace {

class ReduceSum final : public Op {
 public:
  std::string_view name() const override { return "reduce_sum"; }

  OpSignature signature() const override {
    return {.inputs = {"x"},
            .attributes = {{"axes", AttributeKind::integers, "the axes to sum over"}}};
  }

  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override {
    return reduce_shape_rule(node, inputs);
  }

  bool has_reference() const override { return true; }
  void reference(const ReferenceCall& call) const override { reduce_reference(call, false); }

  // dx = dy spread over the reduced axes.
  std::vector<std::optional<ValueId>> gradient(GradientBuilder& builder,
                                               const GradientRequest& request) const override {
    return {spread_over_reduced_axes(builder, request.node, request.output_gradient(), 1.0)};
  }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const TensorType& x = context.type(node.inputs[0]);
    const std::vector<bool> reduced = reduced_axes(node, x.rank());
    const auto leading = static_cast<size_t>(std::ranges::find(reduced, false) - reduced.begin());
    const bool only_leading =
        std::all_of(reduced.begin() + leading, reduced.end(), [](bool r) { return !r; });
    if (only_leading) {
      const int64_t rows = numel(Shape(x.shape.begin(), x.shape.begin() + std::ptrdiff_t(leading)));
      return compile_row_sum(context.f32(node.inputs[0]), context.f32(node.outputs[0]), rows,
                             x.numel() / rows);
    }
    return compile_reduction(dnnl::algorithm::reduction_sum, node, context, kept_dims(node, x));
  }
};

}  // namespace

void register_reduce_sum(OpRegistry& registry) {
  registry.add(std::make_unique<ReduceSum>());
}

}  // namespace loom
