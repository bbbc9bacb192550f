// fused_matmul: y = activation(op(a)·op(b) + bias) as ONE oneDNN matmul, with the bias and
// the activation applied as it writes its output (a bias argument and an eltwise post-op).
// The fusion pass makes these from matmul -> bias_add -> relu chains; users can also write
// them. Since relu's gradient is read from the output (y > 0), fusing loses nothing for
// training: the pre-activation value is never needed.

#include "engine/exec/compile_context.hpp"
#include "engine/exec/primitive_kernel.hpp"
#include "ops/matmul_common.hpp"

namespace loom {

namespace {

bool has_bias(const Node& node) {
  return node.inputs.size() == 3;
}

std::string activation_of(const Node& node) {
  return node.attributes.get_text("activation", "none");
}

class FusedMatMul final : public Op {
 public:
  std::string_view name() const override { return "fused_matmul"; }

  OpSignature signature() const override {
    std::vector<AttributeSpec> attributes = transpose_attributes();
    attributes.push_back({"activation", AttributeKind::text, "none or relu"});
    return {.inputs = {"a", "b", "bias"}, .variadic = true, .attributes = attributes};
  }

  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override {
    if (inputs.size() > 3) fail_node(node, "expected 2 or 3 inputs (a, b, bias)");
    const TensorType y = matmul_result(node, inputs);
    if (has_bias(node)) {
      expect_dtype(node, inputs, 2, DType::f32);
      if (inputs[2].shape != Shape{y.shape[1]}) {
        fail_node(node,
                  "bias " + to_string(inputs[2]) + " does not match the output " + to_string(y));
      }
    }
    const std::string activation = activation_of(node);
    if (activation != "none" && activation != "relu") {
      fail_node(node, "unknown activation '" + activation + "' (known: none, relu)");
    }
    return {y};
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
    dnnl::primitive_attr attributes = kernel_attributes();
    if (activation_of(node) == "relu") {
      dnnl::post_ops post_ops;
      post_ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
      attributes.set_post_ops(post_ops);
    }
    std::vector<std::pair<int, dnnl::memory>> arguments = {
        {DNNL_ARG_SRC, context.memory(a, a_desc)},
        {DNNL_ARG_WEIGHTS, context.memory(b, b_desc)},
        {DNNL_ARG_DST, context.memory(y, y_desc)}};
    dnnl::memory::desc bias_desc;
    if (has_bias(node)) {
      bias_desc = plain_desc(DType::f32, {1, context.type(y).shape[1]});
      arguments.emplace_back(DNNL_ARG_BIAS, context.memory(node.inputs[2], bias_desc));
    }
    const dnnl::matmul::primitive_desc descriptor(
        dnnl::matmul::desc(a_desc, b_desc, bias_desc, y_desc), attributes, context.engine());
    return std::make_unique<PrimitiveKernel>(descriptor, dnnl::matmul(descriptor),
                                             std::move(arguments), context);
  }

  // dz = dy through the activation (relu: from the output); then the matmul operand
  // gradients of dz, and the bias gradient Σ_rows dz.
  std::vector<std::optional<ValueId>> gradient(GradientBuilder& builder,
                                               const GradientRequest& request) const override {
    const Node& node = request.node;
    ValueId dz = request.output_gradient();
    if (activation_of(node) == "relu") {
      dz = builder.emit(node, "relu_backward", {dz, node.outputs[0]});
    }
    const auto [da, db] = matmul_operand_gradients(builder, request, dz);
    std::vector<std::optional<ValueId>> gradients = {da, db};
    if (has_bias(node)) {
      gradients.push_back(request.wanted[2]
                              ? std::optional(builder.emit(node, "reduce_sum", {dz},
                                                           {{"axes", std::vector<int64_t>{0}}}))
                              : std::nullopt);
    }
    return gradients;
  }
};

}  // namespace

void register_fused_matmul(OpRegistry& registry) {
  registry.add(std::make_unique<FusedMatMul>());
}

}  // namespace loom
