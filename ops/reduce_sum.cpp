// reduce_sum: sums x over the listed axes and drops them (Keras's keepdims=False); the
// gradient spreads dy back over those axes.
// Summing over the leading axes (the bias gradient: Σ over the batch) is a vectorized loop:
// oneDNN 2.6 runs that shape with its reference kernel, measured ~40x slower for 32x512.
// Other axis sets use oneDNN's reduction, whose output (same rank, reduced axes set to 1)
// is the same memory as the squeezed result.

#include <algorithm>

#include "engine/exec/compile_context.hpp"
#include "engine/exec/loop_kernel.hpp"
#include "engine/exec/primitive_kernel.hpp"
#include "ops/reduce_common.hpp"

namespace loom {

namespace {

// x viewed as [rows, columns], where rows is the product of the first `leading` dimensions:
// y[j] = Σ_r x[r, j], accumulating row after row so the inner loop is contiguous.
std::unique_ptr<Kernel> sum_leading_axes(const float* x, float* y, const TensorType& type,
                                         size_t leading) {
  int64_t rows = 1;
  for (size_t i = 0; i < leading; ++i) rows *= type.shape[i];
  const int64_t columns = type.numel() / rows;
  return make_loop_kernel([=] {
    std::copy(x, x + columns, y);
    for (int64_t r = 1; r < rows; ++r) {
      const float* row = x + r * columns;
#pragma omp simd
      for (int64_t j = 0; j < columns; ++j) y[j] += row[j];
    }
  });
}

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

  // dx = dy spread over the reduced axes.
  std::vector<std::optional<ValueId>> gradient(GradientBuilder& builder,
                                               const GradientRequest& request) const override {
    return {spread_over_reduced_axes(builder, request.node, request.output_gradient(), 1.0)};
  }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const ValueId x = node.inputs[0], y = node.outputs[0];
    const std::vector<bool> reduced = reduced_axes(node, context.type(x).rank());
    const auto leading = static_cast<size_t>(std::ranges::find(reduced, false) - reduced.begin());
    const bool only_leading =
        std::all_of(reduced.begin() + leading, reduced.end(), [](bool r) { return !r; });
    if (only_leading)
      return sum_leading_axes(context.f32(x), context.f32(y), context.type(x), leading);

    const dnnl::memory::dims x_dims = to_dims(context.type(x).shape);
    dnnl::memory::dims y_dims = x_dims;
    for (size_t i = 0; i < reduced.size(); ++i) {
      if (reduced[i]) y_dims[i] = 1;
    }
    const auto x_desc = plain_desc(DType::f32, x_dims);
    const auto y_desc = plain_desc(DType::f32, y_dims);
    const dnnl::reduction::primitive_desc descriptor(
        dnnl::reduction::desc(dnnl::algorithm::reduction_sum, x_desc, y_desc, 0.f, 0.f),
        kernel_attributes(), context.engine());
    return std::make_unique<PrimitiveKernel>(
        descriptor, dnnl::reduction(descriptor),
        std::vector<std::pair<int, dnnl::memory>>{{DNNL_ARG_SRC, context.memory(x, x_desc)},
                                                  {DNNL_ARG_DST, context.memory(y, y_desc)}},
        context);
  }
};

}  // namespace

void register_reduce_sum(OpRegistry& registry) {
  registry.add(std::make_unique<ReduceSum>());
}

}  // namespace loom
