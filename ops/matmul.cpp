// matmul: y = op(a) · op(b) for 2-D tensors, where op transposes when the attribute says so.
// The transposes are views: a transposed operand is the same buffer read with swapped
// strides (oneDNN's format_tag::ba), which is how the gradients avoid copying.

#include "engine/exec/compile_context.hpp"
#include "engine/exec/primitive_kernel.hpp"
#include "ops/matmul_common.hpp"

namespace loom {

namespace {

class MatMul final : public Op {
 public:
  std::string_view name() const override { return "matmul"; }

  OpSignature signature() const override {
    return {.inputs = {"a", "b"}, .attributes = transpose_attributes()};
  }

  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override {
    return {matmul_result(node, inputs)};
  }

  int64_t flops(const Node& node, const Graph& graph) const override {
    return matmul_flops(graph.value(node.outputs[0]).type, graph.value(node.inputs[0]).type,
                        node.attributes.get_bool("transpose_a", false));
  }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const ValueId a = node.inputs[0], b = node.inputs[1], y = node.outputs[0];
    const auto a_desc =
        operand_desc(context.type(a), node.attributes.get_bool("transpose_a", false));
    const auto b_desc =
        operand_desc(context.type(b), node.attributes.get_bool("transpose_b", false));
    const auto y_desc = plain_desc(context.type(y));
    const dnnl::matmul::primitive_desc descriptor(dnnl::matmul::desc(a_desc, b_desc, y_desc),
                                                  kernel_attributes(), context.engine());
    return std::make_unique<PrimitiveKernel>(
        descriptor, dnnl::matmul(descriptor),
        std::vector<std::pair<int, dnnl::memory>>{{DNNL_ARG_SRC, context.memory(a, a_desc)},
                                                  {DNNL_ARG_WEIGHTS, context.memory(b, b_desc)},
                                                  {DNNL_ARG_DST, context.memory(y, y_desc)}},
        context);
  }

  std::vector<std::optional<ValueId>> gradient(GradientBuilder& builder,
                                               const GradientRequest& request) const override {
    const auto [da, db] = matmul_operand_gradients(builder, request, request.output_gradient());
    return {da, db};
  }
};

}  // namespace

void register_matmul(OpRegistry& registry) {
  registry.add(std::make_unique<MatMul>());
}

}  // namespace loom
