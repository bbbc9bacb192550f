// matmul: y = op(a) · op(b) for 2-D tensors, where op transposes when the attribute says so.
// The transposes are views: a transposed operand is the same buffer read with swapped
// strides (oneDNN's format_tag::ba), which is how the gradients avoid copying.

#include "engine/exec/compile_context.hpp"
#include "engine/exec/primitive_kernel.hpp"
#include "engine/graph/op.hpp"

namespace loom {

namespace {

struct Operand {
  int64_t rows;
  int64_t cols;
};

// The logical (possibly transposed) shape of a 2-D operand.
Operand logical(const TensorType& type, bool transposed) {
  return transposed ? Operand{type.shape[1], type.shape[0]} : Operand{type.shape[0], type.shape[1]};
}

// A descriptor for the logical operand over the stored buffer.
dnnl::memory::desc operand_desc(const TensorType& type, bool transposed) {
  const Operand shape = logical(type, transposed);
  const dnnl::memory::dims dims = {shape.rows, shape.cols};
  const dnnl::memory::dims strides =
      transposed ? dnnl::memory::dims{1, shape.rows} : dnnl::memory::dims{shape.cols, 1};
  return dnnl::memory::desc(dims, dnnl::memory::data_type::f32, strides);
}

class MatMul final : public Op {
 public:
  std::string_view name() const override { return "matmul"; }

  OpSignature signature() const override {
    return {.inputs = {"a", "b"},
            .attributes = {{"transpose_a", AttributeKind::boolean, "use a transposed"},
                           {"transpose_b", AttributeKind::boolean, "use b transposed"}}};
  }

  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override {
    expect_rank(node, inputs, 0, 2);
    expect_rank(node, inputs, 1, 2);
    expect_dtype(node, inputs, 0, DType::f32);
    expect_dtype(node, inputs, 1, DType::f32);
    const Operand a = logical(inputs[0], node.attributes.get_bool("transpose_a", false));
    const Operand b = logical(inputs[1], node.attributes.get_bool("transpose_b", false));
    if (a.cols != b.rows) {
      fail_node(node, "inner dimensions differ: a is " + to_string(inputs[0]) + ", b is " +
                          to_string(inputs[1]) + " (" + std::to_string(a.cols) + " vs " +
                          std::to_string(b.rows) + ")");
    }
    return {TensorType{DType::f32, {a.rows, b.cols}}};
  }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const ValueId a = node.inputs[0], b = node.inputs[1], y = node.outputs[0];
    const auto a_desc = operand_desc(context.type(a), node.attributes.get_bool("transpose_a", false));
    const auto b_desc = operand_desc(context.type(b), node.attributes.get_bool("transpose_b", false));
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

  // y = op(a)·op(b):
  //   da = dy·op(b)ᵀ, or when a is transposed, (dy·op(b)ᵀ)ᵀ = op(b)·dyᵀ
  //   db = op(a)ᵀ·dy, or when b is transposed, (op(a)ᵀ·dy)ᵀ = dyᵀ·op(a)
  std::vector<std::optional<ValueId>> gradient(GradientBuilder& builder,
                                               const GradientRequest& request) const override {
    const Node& node = request.node;
    const ValueId a = node.inputs[0], b = node.inputs[1];
    const ValueId dy = request.output_gradient();
    const bool ta = node.attributes.get_bool("transpose_a", false);
    const bool tb = node.attributes.get_bool("transpose_b", false);
    std::optional<ValueId> da, db;
    if (request.wanted[0]) {
      da = ta ? builder.emit(node, "matmul", {b, dy}, {{"transpose_a", tb}, {"transpose_b", true}})
              : builder.emit(node, "matmul", {dy, b}, {{"transpose_b", !tb}});
    }
    if (request.wanted[1]) {
      db = tb ? builder.emit(node, "matmul", {dy, a}, {{"transpose_a", true}, {"transpose_b", ta}})
              : builder.emit(node, "matmul", {a, dy}, {{"transpose_a", !ta}});
    }
    return {da, db};
  }
};

}  // namespace

void register_matmul(OpRegistry& registry) { registry.add(std::make_unique<MatMul>()); }

}  // namespace loom
