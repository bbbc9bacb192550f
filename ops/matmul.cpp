// matmul: y = op(a) · op(b) for 2-D tensors, or for each entry of two batches of matrices
// [B..., R, C] with the same leading axes (numpy's matmul without broadcasting), where op
// transposes the last two axes when the attribute says so. The transposes are views: a
// transposed operand is the same buffer read with swapped strides (oneDNN's format_tag::ba
// for a matrix), which is how the gradients avoid copying; they hold per batch entry too.

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
    return matmul_flops(node, graph);
  }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    return compile_matmul(node, context, std::nullopt);
  }

  bool has_reference() const override { return true; }
  void reference(const ReferenceCall& call) const override { matmul_reference(call); }

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
