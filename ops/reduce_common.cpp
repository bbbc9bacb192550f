#include "ops/reduce_common.hpp"

#include <algorithm>

#include "engine/exec/compile_context.hpp"
#include "engine/exec/loop_kernel.hpp"
#include "engine/exec/primitive_kernel.hpp"
#include "ops/reference_common.hpp"

namespace loom {

std::vector<bool> reduced_axes(const Node& node, int64_t rank) {
  std::vector<bool> reduced(static_cast<size_t>(rank), false);
  for (int64_t axis : node.attributes.get_ints("axes", {})) {
    const int64_t normalized = normalize_axis(node, axis, rank);
    if (reduced[size_t(normalized)]) {
      fail_node(node, "axis " + std::to_string(axis) + " is listed twice");
    }
    reduced[size_t(normalized)] = true;
  }
  return reduced;
}

std::vector<TensorType> reduce_shape_rule(const Node& node, std::span<const TensorType> inputs) {
  expect_dtype(node, inputs, 0, DType::f32);
  if (!node.attributes.has("axes")) fail_node(node, "the attribute 'axes' is required");
  const std::vector<bool> reduced = reduced_axes(node, inputs[0].rank());
  Shape shape;
  for (size_t i = 0; i < reduced.size(); ++i) {
    if (!reduced[i]) shape.push_back(inputs[0].shape[i]);
  }
  return {TensorType{DType::f32, shape}};
}

std::unique_ptr<Kernel> compile_reduction(dnnl::algorithm algorithm, const Node& node,
                                          CompileContext& context,
                                          const dnnl::memory::dims& y_dims) {
  const auto x_desc = plain_desc(context.type(node.inputs[0]));
  const auto y_desc = plain_desc(DType::f32, y_dims);
  const dnnl::reduction::primitive_desc descriptor(
      dnnl::reduction::desc(algorithm, x_desc, y_desc, 0.f, 0.f), kernel_attributes(),
      context.engine());
  return std::make_unique<PrimitiveKernel>(
      descriptor, dnnl::reduction(descriptor),
      std::vector<std::pair<int, dnnl::memory>>{
          {DNNL_ARG_SRC, context.memory(node.inputs[0], x_desc)},
          {DNNL_ARG_DST, context.memory(node.outputs[0], y_desc)}},
      context);
}

std::unique_ptr<Kernel> compile_row_sum(const float* x, float* y, int64_t rows, int64_t columns) {
  return make_loop_kernel([=] {
    std::copy(x, x + columns, y);
    for (int64_t r = 1; r < rows; ++r) {
      const float* row = x + r * columns;
#pragma omp simd
      for (int64_t j = 0; j < columns; ++j) y[j] += row[j];
    }
  });
}

dnnl::memory::dims kept_dims(const Node& node, const TensorType& x) {
  dnnl::memory::dims dims = to_dims(x.shape);
  const std::vector<bool> reduced = reduced_axes(node, x.rank());
  for (size_t i = 0; i < reduced.size(); ++i) {
    if (reduced[i]) dims[i] = 1;
  }
  return dims;
}

void reduce_reference(const ReferenceCall& call, bool mean) {
  const Shape& x = call.input_shape(0);
  const std::vector<bool> reduced = reduced_axes(call.node, int64_t(x.size()));
  const std::vector<int64_t> y_strides = row_major_strides(call.output_shape(0));
  const std::span<double> y = call.outputs[0];
  for (int64_t i = 0; i < numel(x); ++i) {
    const std::vector<int64_t> index = unravel(i, x);
    std::vector<int64_t> kept;
    for (size_t d = 0; d < x.size(); ++d) {
      if (!reduced[d]) kept.push_back(index[d]);
    }
    y[size_t(offset_of(kept, y_strides))] += call.inputs[0][size_t(i)];
  }
  if (mean) {
    const double count = double(numel(x)) / double(y.size());
    for (double& value : y) value /= count;
  }
}

ValueId spread_over_reduced_axes(GradientBuilder& builder, const Node& node, ValueId dy,
                                 double factor) {
  const TensorType& x = builder.graph().value(node.inputs[0]).type;
  const std::vector<bool> reduced = reduced_axes(node, x.rank());
  std::vector<int64_t> axes;
  for (size_t i = 0; i < reduced.size(); ++i) {
    if (reduced[i]) axes.push_back(int64_t(i));
  }
  ValueId spread = builder.emit(node, "broadcast_axes", {dy}, {{"axes", axes}, {"shape", x.shape}});
  if (factor != 1.0) spread = builder.emit(node, "scale", {spread}, {{"factor", factor}});
  return spread;
}

}  // namespace loom
