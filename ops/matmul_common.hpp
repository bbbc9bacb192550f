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

// The matrix an operand [..., R, C] stands for in each batch entry: [R, C], or [C, R] when
// transposed (its last two axes swapped).
inline MatrixShape logical_shape(const TensorType& type, bool transposed) {
  const size_t rank = type.shape.size();
  const int64_t rows = type.shape[rank - 2], cols = type.shape[rank - 1];
  return transposed ? MatrixShape{cols, rows} : MatrixShape{rows, cols};
}

// The leading axes of a batched operand [B..., R, C]: empty for a matrix.
inline Shape batch_axes(const TensorType& type) {
  return Shape(type.shape.begin(), type.shape.end() - 2);
}

// The logical operand over the stored row-major buffer: the last two strides swapped when
// transposed (format_tag::ba for a matrix).
inline dnnl::memory::desc operand_desc(const TensorType& type, bool transposed) {
  const MatrixShape shape = logical_shape(type, transposed);
  const MatrixShape stored = logical_shape(type, false);
  dnnl::memory::dims dims = batch_axes(type), strides(dims.size());
  int64_t stride = stored.rows * stored.cols;
  for (size_t i = dims.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= dims[i];
  }
  dims.insert(dims.end(), {shape.rows, shape.cols});
  if (transposed) {
    strides.insert(strides.end(), {1, stored.cols});
  } else {
    strides.insert(strides.end(), {stored.cols, 1});
  }
  return dnnl::memory::desc(dims, dnnl::memory::data_type::f32, strides);
}

inline std::vector<AttributeSpec> transpose_attributes() {
  return {{"transpose_a", AttributeKind::boolean, "use a transposed"},
          {"transpose_b", AttributeKind::boolean, "use b transposed"}};
}

// The shape of op(a)·op(b), with errors naming both operands: matrices, or batches of them
// [B..., R, C] with the same leading axes (each entry's product, as numpy's matmul).
inline TensorType matmul_result(const Node& node, std::span<const TensorType> inputs) {
  expect_dtype(node, inputs, 0, DType::f32);
  expect_dtype(node, inputs, 1, DType::f32);
  if (inputs[0].shape.size() < 2 || inputs[0].shape.size() != inputs[1].shape.size() ||
      batch_axes(inputs[0]) != batch_axes(inputs[1])) {
    fail_node(node,
              "expected two matrices, or two batches of them with the same leading axes; "
              "a is " +
                  to_string(inputs[0]) + ", b is " + to_string(inputs[1]));
  }
  const MatrixShape a = logical_shape(inputs[0], node.attributes.get_bool("transpose_a", false));
  const MatrixShape b = logical_shape(inputs[1], node.attributes.get_bool("transpose_b", false));
  if (a.cols != b.rows) {
    fail_node(node, "inner dimensions differ: a is " + to_string(inputs[0]) + ", b is " +
                        to_string(inputs[1]) + " (" + std::to_string(a.cols) + " vs " +
                        std::to_string(b.rows) + ")");
  }
  Shape shape = batch_axes(inputs[0]);
  shape.insert(shape.end(), {a.rows, b.cols});
  return TensorType{DType::f32, shape};
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

// 2·M·N·K per batch entry for the node's output [B..., M, N] and inner dimension K.
inline int64_t matmul_flops(const Node& node, const Graph& graph) {
  const TensorType& y = graph.value(node.outputs[0]).type;
  const int64_t inner = logical_shape(graph.value(node.inputs[0]).type,
                                      node.attributes.get_bool("transpose_a", false))
                            .cols;
  return 2 * numel(y.shape) * inner;
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
