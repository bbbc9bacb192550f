#pragma once
// What matmul and fused_matmul share: the logical shape of a possibly transposed operand,
// the strided descriptor that makes a transpose a view instead of a copy, the shape rule,
// and the gradient rule for the two operands.

#include <oneapi/dnnl/dnnl.hpp>

#include "engine/exec/kernel.hpp"
#include "engine/graph/op.hpp"

namespace loom {

struct MatrixShape {
  int64_t rows;
  int64_t cols;
};

inline MatrixShape logical_shape(const TensorType& type, bool transposed) {
  return transposed ? MatrixShape{type.shape[1], type.shape[0]}
                    : MatrixShape{type.shape[0], type.shape[1]};
}

// The logical operand over the stored row-major buffer (format_tag::ba when transposed).
inline dnnl::memory::desc operand_desc(const TensorType& type, bool transposed) {
  const MatrixShape shape = logical_shape(type, transposed);
  const dnnl::memory::dims strides =
      transposed ? dnnl::memory::dims{1, shape.rows} : dnnl::memory::dims{shape.cols, 1};
  return dnnl::memory::desc({shape.rows, shape.cols}, dnnl::memory::data_type::f32, strides);
}

inline std::vector<AttributeSpec> transpose_attributes() {
  return {{"transpose_a", AttributeKind::boolean, "use a transposed"},
          {"transpose_b", AttributeKind::boolean, "use b transposed"}};
}

// The shape of op(a)·op(b), with errors naming both operands.
inline TensorType matmul_result(const Node& node, std::span<const TensorType> inputs) {
  expect_rank(node, inputs, 0, 2);
  expect_rank(node, inputs, 1, 2);
  expect_dtype(node, inputs, 0, DType::f32);
  expect_dtype(node, inputs, 1, DType::f32);
  const MatrixShape a = logical_shape(inputs[0], node.attributes.get_bool("transpose_a", false));
  const MatrixShape b = logical_shape(inputs[1], node.attributes.get_bool("transpose_b", false));
  if (a.cols != b.rows) {
    fail_node(node, "inner dimensions differ: a is " + to_string(inputs[0]) + ", b is " +
                        to_string(inputs[1]) + " (" + std::to_string(a.cols) + " vs " +
                        std::to_string(b.rows) + ")");
  }
  return TensorType{DType::f32, {a.rows, b.cols}};
}

// For y = op(a)·op(b) with upstream gradient dy:
//   da = dy·op(b)ᵀ, or when a is transposed, (dy·op(b)ᵀ)ᵀ = op(b)·dyᵀ
//   db = op(a)ᵀ·dy, or when b is transposed, (op(a)ᵀ·dy)ᵀ = dyᵀ·op(a)
// Each is one matmul node over transposed views: no copies.
inline std::pair<std::optional<ValueId>, std::optional<ValueId>> matmul_operand_gradients(
    GradientBuilder& builder, const GradientRequest& request, ValueId dy) {
  const Node& node = request.node;
  const ValueId a = node.inputs[0], b = node.inputs[1];
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

// 2·M·N·K for the node's output [M, N] and inner dimension K.
inline int64_t matmul_flops(const Node& node, const Graph& graph) {
  const TensorType& y = graph.value(node.outputs[0]).type;
  const int64_t inner = logical_shape(graph.value(node.inputs[0]).type,
                                      node.attributes.get_bool("transpose_a", false))
                            .cols;
  return 2 * y.shape[0] * y.shape[1] * inner;
}

// The reference (Op::reference) of y = op(a)·op(b), into the call's output 0: each element a
// dot product summed in double. fused_matmul adds its bias and activation on top.
void matmul_reference(const ReferenceCall& call);

// One oneDNN matmul for the node: y = post_ops(op(a)·op(b) + bias), with the transposes as
// strided views and the bias (if any) broadcast over the rows.
std::unique_ptr<Kernel> compile_matmul(const Node& node, CompileContext& context,
                                       std::optional<ValueId> bias,
                                       const dnnl::post_ops& post_ops = {});

}  // namespace loom
