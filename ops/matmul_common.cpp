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

}  // namespace loom
