// fused_matmul: y = activation(op(a)·op(b) + bias) as ONE oneDNN matmul, with the bias and
// the activation applied as it writes its output (a bias argument and an eltwise post-op).
// The fusion pass makes these from matmul -> bias_add -> relu chains; users can also write
// them. Since relu's gradient is read from the output (y > 0), fusing loses nothing for
// training: the pre-activation value is never needed.

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
    return {.inputs = {"a", "b", "bias"}, .optional_inputs = 1, .attributes = attributes};
  }

  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override {
    expect_rank(node, inputs, 0, 2);  // the fusion pass fuses matrices only
    expect_rank(node, inputs, 1, 2);
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
    return matmul_flops(node, graph);
  }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    dnnl::post_ops post_ops;
    if (activation_of(node) == "relu") {
      post_ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
    }
    const std::optional<ValueId> bias =
        has_bias(node) ? std::optional(node.inputs[2]) : std::nullopt;
    return compile_matmul(node, context, bias, post_ops);
  }

  // op(a)·op(b), then the bias added to every row, then the activation.
  bool has_reference() const override { return true; }
  void reference(const ReferenceCall& call) const override {
    matmul_reference(call);
    const std::span<double> y = call.outputs[0];
    const int64_t columns = call.output_shape(0)[1];
    const bool relu = activation_of(call.node) == "relu";
    for (size_t i = 0; i < y.size(); ++i) {
      if (has_bias(call.node)) y[i] += call.inputs[2][i % size_t(columns)];
      if (relu) y[i] = y[i] > 0 ? y[i] : 0.0;
    }
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
