// sum_to_shape(x) with attribute shape: sums x over the dimensions along which a tensor of
// `shape` was broadcast to x's shape (numpy's "unbroadcast"). Autodiff emits it for the
// gradients of broadcasting binary ops. Leading dimensions collapse with the same fast loop
// as reduce_sum's; other patterns use oneDNN's reduction into the rank-padded target.

#include <algorithm>

#include "engine/exec/compile_context.hpp"
#include "ops/reduce_common.hpp"

namespace loom {

namespace {

class SumToShape final : public Op {
 public:
  std::string_view name() const override { return "sum_to_shape"; }
  OpSignature signature() const override {
    return {.inputs = {"x"},
            .attributes = {{"shape", AttributeKind::integers, "the shape to sum down to"}},
            .internal = true};
  }

  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override {
    const Shape target = node.attributes.get_ints("shape", {});
    const Shape& x = inputs[0].shape;
    bool ok = target.size() <= x.size();
    for (size_t i = 0; ok && i < target.size(); ++i) {
      const int64_t dim = x[x.size() - target.size() + i];
      ok = target[i] == dim || target[i] == 1;
    }
    if (!ok)
      fail_node(node, "cannot sum " + to_string(inputs[0]) + " down to " + to_string(target));
    return {TensorType{DType::f32, target}};
  }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const Shape& x_shape = context.type(node.inputs[0]).shape;
    Shape target(x_shape.size() - context.type(node.outputs[0]).shape.size(), 1);
    for (int64_t dim : context.type(node.outputs[0]).shape) target.push_back(dim);
    const float* x = context.f32(node.inputs[0]);
    float* y = context.f32(node.outputs[0]);

    // The common case, x = [rows, ...target] with target unbroadcast: a row-sum loop.
    const auto first_kept = std::ranges::mismatch(target, Shape(target.size(), 1)).in1;
    const auto leading = size_t(first_kept - target.begin());
    if (std::equal(target.begin() + std::ptrdiff_t(leading), target.end(),
                   x_shape.begin() + std::ptrdiff_t(leading))) {
      const int64_t columns = numel(Shape(target.begin() + std::ptrdiff_t(leading), target.end()));
      return compile_row_sum(x, y, numel(x_shape) / columns, columns);
    }
    return compile_reduction(dnnl::algorithm::reduction_sum, node, context, to_dims(target));
  }
};

}  // namespace

void register_sum_to_shape(OpRegistry& registry) {
  registry.add(std::make_unique<SumToShape>());
}

}  // namespace loom
