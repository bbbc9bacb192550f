// Gemm and MatMul onto the engine's 2-D matmul, its bias_add (which the fusion pass folds
// into one oneDNN matmul with the activation that follows) and broadcasting add.

#include <algorithm>

#include "engine/core/checked.hpp"
#include "engine/onnx/node_context.hpp"

namespace loom {

namespace {

// Whether Gemm's C is a bias: a constant of N values along Y's columns ([N], [1, N]), which
// becomes one trainable [N] parameter, as a Dense layer's bias.
bool is_row_bias(NodeContext& node, int64_t columns) {
  if (!node.is_constant(2)) return false;
  const Shape c = node.constant_shape(2);
  return (c.size() == 1 && c[0] == columns) || (c.size() == 2 && c[0] == 1 && c[1] == columns);
}

// B computed from the data would put its batch axis into Y's columns or contract it: Y's
// rows follow A's, so only A may carry the batch.
void expect_fixed_b(NodeContext& node, const std::string& b) {
  if (node.batch_major(b)) {
    node.refuse("B '" + b + "' is computed from the data; the engine's models keep the batch " +
                "in A's rows (B a weight or a constant)");
  }
}

// Y = alpha · op(A) · op(B) + beta · C (ONNX Gemm, opset 7 on: C optional from 11).
void map_gemm(NodeContext& node) {
  // `broadcast` (opsets 1-6) only allowed C to broadcast, which it always may since opset 7.
  node.accept_attributes({"alpha", "beta", "transA", "transB", "broadcast"});
  node.expect_inputs(2, 3);
  const bool transpose_a = node.integer("transA", 0) != 0;
  const bool transpose_b = node.integer("transB", 0) != 0;
  const double alpha = node.real("alpha", 1.0), beta = node.real("beta", 1.0);
  const std::string a = node.value(0), b = node.value(1);
  if (node.rank(a) != 2 || node.rank(b) != 2) {
    node.refuse("A and B must be matrices, got " + to_string(node.shape(a)) + " and " +
                to_string(node.shape(b)));
  }
  if (transpose_a) node.expect_not_batch_axis(a, 0, "transA=1 contracts A's axis 0, which");
  expect_fixed_b(node, b);
  const int64_t columns = node.shape(b)[transpose_b ? 0 : 1];
  const bool has_c = node.has_input(2) && beta != 0.0;
  const bool scaled = alpha != 1.0;
  const Attributes transposes = {{"transpose_a", transpose_a}, {"transpose_b", transpose_b}};
  if (!has_c && !scaled) {
    node.emit("matmul", {a, b}, transposes);
    return;
  }
  std::string y = node.step("matmul", "matmul", {a, b}, transposes);
  if (scaled) {
    if (!has_c) {
      node.emit("scale", {y}, {{"factor", alpha}});
      return;
    }
    y = node.step("alpha", "scale", {y}, {{"factor", alpha}});
  }
  if (beta == 1.0 && is_row_bias(node, columns)) {
    node.emit("bias_add", {y, node.weight(2, {columns})});
    return;
  }
  std::string c = node.value(2);
  const bool fixes_batch = node.batch_major(y)
                               ? !node.batch_major(c) && node.rank(c) == 2 && node.shape(c)[0] != 1
                               : node.batch_major(c);
  if (fixes_batch) {
    node.refuse("C " + to_string(node.shape(c)) + " and A " + to_string(node.shape(a)) +
                " disagree on which rows are samples; the engine's models keep axis 0 as the "
                "batch, of any size");
  }
  if (beta != 1.0) c = node.step("beta", "scale", {c}, {{"factor", beta}});
  node.emit("add", {y, c});
}

// MatMul of matrices; of a data tensor [..., K] by a matrix [K, N] (a Dense layer on every
// position of a sequence), flattened to rows, multiplied, given its leading axes back; or of
// two batches of matrices with the same leading axes (attention's scores), the engine's
// batched matmul. Both of a batched pair carry the batch axis or neither: a constant's fixed
// axis 0 would fix the batch size.
void map_matmul(NodeContext& node) {
  node.accept_attributes({});
  node.expect_inputs(2, 2);
  const std::string a = node.value(0), b = node.value(1);
  const Shape& a_shape = node.shape(a);
  const Shape& b_shape = node.shape(b);
  const bool batched = a_shape.size() >= 3 && a_shape.size() == b_shape.size() &&
                       std::equal(a_shape.begin(), a_shape.end() - 2, b_shape.begin()) &&
                       node.batch_major(a) == node.batch_major(b);
  if (batched) {
    node.emit("matmul", {a, b});
    return;
  }
  if (b_shape.size() != 2 || a_shape.size() < 2) {
    node.refuse(
        "the engine maps MatMul of [..., K] by a matrix [K, N], and of two batches of "
        "matrices with the same leading axes (both from the data or neither); got " +
        to_string(a_shape) + " by " + to_string(b_shape));
  }
  expect_fixed_b(node, b);
  if (a_shape.size() == 2) {
    node.emit("matmul", {a, b});
    return;
  }
  const int64_t k = a_shape.back();
  const std::string rows = node.step("rows", "reshape", {a}, {{"shape", Shape{-1, k}}});
  const std::string product = node.step("matmul", "matmul", {rows, b});
  Shape out = a_shape;
  out.back() = b_shape[1];
  if (node.batch_major(a)) out[0] = -1;
  node.emit("reshape", {product}, {{"shape", out}});
}

}  // namespace

void add_matrix_mappers(MapperTable& table) {
  table["Gemm"] = map_gemm;
  table["MatMul"] = map_matmul;
}

}  // namespace loom
