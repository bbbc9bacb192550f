// bias_add: y = x + b, with b ([N]) broadcast over every leading dimension of x ([..., N]).
// Forward is oneDNN's binary add with a broadcast operand; the bias gradient sums dy over
// the leading dimensions (a reduce_sum node).

#include <numeric>

#include "engine/exec/compile_context.hpp"
#include "engine/exec/primitive_kernel.hpp"
#include "engine/graph/op.hpp"

namespace loom {

namespace {

class BiasAdd final : public Op {
 public:
  std::string_view name() const override { return "bias_add"; }
  std::optional<size_t> in_place_input(const Node&) const override { return 0; }

  OpSignature signature() const override { return {.inputs = {"x", "bias"}}; }

  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override {
    expect_rank(node, inputs, 1, 1);
    expect_dtype(node, inputs, 0, DType::f32);
    expect_dtype(node, inputs, 1, DType::f32);
    if (inputs[0].rank() < 1 || inputs[0].shape.back() != inputs[1].shape[0]) {
      fail_node(node, "bias " + to_string(inputs[1]) + " does not match the last dimension of x " +
                          to_string(inputs[0]));
    }
    return {inputs[0]};
  }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const ValueId x = node.inputs[0], b = node.inputs[1], y = node.outputs[0];
    const dnnl::memory::dims x_dims = to_dims(context.type(x).shape);
    dnnl::memory::dims b_dims(x_dims.size(), 1);
    b_dims.back() = x_dims.back();
    const auto x_desc = plain_desc(DType::f32, x_dims);
    const auto b_desc = plain_desc(DType::f32, b_dims);
    const dnnl::binary::primitive_desc descriptor(
        dnnl::binary::desc(dnnl::algorithm::binary_add, x_desc, b_desc, x_desc),
        kernel_attributes(), context.engine());
    return std::make_unique<PrimitiveKernel>(
        descriptor, dnnl::binary(descriptor),
        std::vector<std::pair<int, dnnl::memory>>{{DNNL_ARG_SRC_0, context.memory(x, x_desc)},
                                                  {DNNL_ARG_SRC_1, context.memory(b, b_desc)},
                                                  {DNNL_ARG_DST, context.memory(y, x_desc)}},
        context);
  }

  // y[..., c] = x[..., c] + bias[c].
  bool has_reference() const override { return true; }
  void reference(const ReferenceCall& call) const override {
    const std::span<const double> x = call.inputs[0], bias = call.inputs[1];
    for (size_t i = 0; i < x.size(); ++i) call.outputs[0][i] = x[i] + bias[i % bias.size()];
  }

  // dx = dy (no node: the same value); db = Σ dy over every axis but the last.
  std::vector<std::optional<ValueId>> gradient(GradientBuilder& builder,
                                               const GradientRequest& request) const override {
    const Node& node = request.node;
    const ValueId dy = request.output_gradient();
    std::optional<ValueId> db;
    if (request.wanted[1]) {
      std::vector<int64_t> leading(static_cast<size_t>(builder.graph().value(dy).type.rank() - 1));
      std::iota(leading.begin(), leading.end(), 0);
      db = builder.emit(node, "reduce_sum", {dy}, {{"axes", leading}});
    }
    return {dy, db};
  }
};

}  // namespace

void register_bias_add(OpRegistry& registry) {
  registry.add(std::make_unique<BiasAdd>());
}

}  // namespace loom
