#include "ops/matmul_common.hpp"

#include "engine/exec/compile_context.hpp"
#include "engine/exec/primitive_kernel.hpp"

namespace loom {

std::unique_ptr<Kernel> compile_matmul(const Node& node, CompileContext& context,
                                       std::optional<ValueId> bias,
                                       const dnnl::post_ops& post_ops) {
  const ValueId a = node.inputs[0], b = node.inputs[1], y = node.outputs[0];
  const auto a_desc = operand_desc(context.type(a), node.attributes.get_bool("transpose_a", false));
  const auto b_desc = operand_desc(context.type(b), node.attributes.get_bool("transpose_b", false));
  const auto y_desc = plain_desc(context.type(y));
  dnnl::primitive_attr attributes = kernel_attributes();
  attributes.set_post_ops(post_ops);
  std::vector<std::pair<int, dnnl::memory>> arguments = {
      {DNNL_ARG_SRC, context.memory(a, a_desc)},
      {DNNL_ARG_WEIGHTS, context.memory(b, b_desc)},
      {DNNL_ARG_DST, context.memory(y, y_desc)}};
  dnnl::memory::desc bias_desc;  // an empty descriptor means "no bias" to oneDNN
  if (bias) {
    bias_desc = plain_desc(DType::f32, {1, context.type(y).shape[1]});
    arguments.emplace_back(DNNL_ARG_BIAS, context.memory(*bias, bias_desc));
  }
  const dnnl::matmul::primitive_desc descriptor(
      dnnl::matmul::desc(a_desc, b_desc, bias_desc, y_desc), attributes, context.engine());
  return std::make_unique<PrimitiveKernel>(descriptor, dnnl::matmul(descriptor),
                                           std::move(arguments), context);
}

void matmul_reference(const ReferenceCall& call) {
  const bool ta = call.node.attributes.get_bool("transpose_a", false);
  const bool tb = call.node.attributes.get_bool("transpose_b", false);
  const MatrixShape a_stored = logical_shape(call.input_types[0], false);
  const MatrixShape b_stored = logical_shape(call.input_types[1], false);
  const MatrixShape a_shape = logical_shape(call.input_types[0], ta);
  const MatrixShape b_shape = logical_shape(call.input_types[1], tb);
  const int64_t entries = numel(batch_axes(call.input_types[0]));
  for (int64_t entry = 0; entry < entries; ++entry) {
    const std::span<const double> a =
        call.inputs[0].subspan(size_t(entry * a_stored.rows * a_stored.cols));
    const std::span<const double> b =
        call.inputs[1].subspan(size_t(entry * b_stored.rows * b_stored.cols));
    const std::span<double> y =
        call.outputs[0].subspan(size_t(entry * a_shape.rows * b_shape.cols));
    // op(a)[i, k]: a stored [rows, cols] read as its transpose swaps the indices.
    const auto a_at = [&](int64_t i, int64_t k) {
      return ta ? a[size_t(k * a_stored.cols + i)] : a[size_t(i * a_stored.cols + k)];
    };
    const auto b_at = [&](int64_t k, int64_t j) {
      return tb ? b[size_t(j * b_stored.cols + k)] : b[size_t(k * b_stored.cols + j)];
    };
    for (int64_t i = 0; i < a_shape.rows; ++i) {
      for (int64_t j = 0; j < b_shape.cols; ++j) {
        double total = 0;
        for (int64_t k = 0; k < a_shape.cols; ++k) total += a_at(i, k) * b_at(k, j);
        y[size_t(i * b_shape.cols + j)] = total;
      }
    }
  }
}

}  // namespace loom
