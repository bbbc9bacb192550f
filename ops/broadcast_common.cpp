#include "ops/broadcast_common.hpp"

#include <algorithm>

#include "engine/exec/compile_context.hpp"
#include "engine/exec/loop_kernel.hpp"
#include "engine/exec/primitive_kernel.hpp"
#include "ops/reference_common.hpp"

namespace loom {

namespace {

Shape padded(const Shape& shape, size_t rank) {
  Shape result(rank - shape.size(), 1);
  result.insert(result.end(), shape.begin(), shape.end());
  return result;
}

dnnl::algorithm algorithm_of(BinaryKind kind) {
  switch (kind) {
    case BinaryKind::add:
      return dnnl::algorithm::binary_add;
    case BinaryKind::sub:
      return dnnl::algorithm::binary_sub;
    case BinaryKind::mul:
      return dnnl::algorithm::binary_mul;
    case BinaryKind::div:
      return dnnl::algorithm::binary_div;
  }
  return dnnl::algorithm::binary_add;
}

float apply(BinaryKind kind, float a, float b) {
  switch (kind) {
    case BinaryKind::add:
      return a + b;
    case BinaryKind::sub:
      return a - b;
    case BinaryKind::mul:
      return a * b;
    case BinaryKind::div:
      return a / b;
  }
  return 0.f;
}

// Element strides of `shape` padded to `rank`, with 0 where it is broadcast.
std::vector<int64_t> broadcast_strides(const Shape& shape, const Shape& out) {
  const Shape full = padded(shape, out.size());
  std::vector<int64_t> strides(out.size(), 0);
  int64_t stride = 1;
  for (size_t d = out.size(); d-- > 0;) {
    strides[d] = full[d] == 1 && out[d] != 1 ? 0 : stride;
    stride *= full[d];
  }
  return strides;
}

// Visits every output element in order, i with operand a's and b's offsets (their broadcast
// strides), advancing the multi-index `index` (out.size() entries, all zero) like an
// odometer; `index` ends zero again.
template <typename Visit>
void walk_broadcast(const Shape& out, const std::vector<int64_t>& a_strides,
                    const std::vector<int64_t>& b_strides, std::vector<int64_t>& index,
                    Visit visit) {
  int64_t a_offset = 0, b_offset = 0;
  const int64_t count = numel(out);
  for (int64_t i = 0; i < count; ++i) {
    visit(i, a_offset, b_offset);
    for (size_t d = out.size(); d-- > 0;) {
      a_offset += a_strides[d];
      b_offset += b_strides[d];
      if (++index[d] < out[d]) break;
      a_offset -= a_strides[d] * out[d];
      b_offset -= b_strides[d] * out[d];
      index[d] = 0;
    }
  }
}

// The general case: walk the output in order with a multi-index.
std::unique_ptr<Kernel> broadcast_loop(BinaryKind kind, const float* a, const float* b, float* y,
                                       const Shape& a_shape, const Shape& b_shape,
                                       const Shape& out) {
  const std::vector<int64_t> a_strides = broadcast_strides(a_shape, out);
  const std::vector<int64_t> b_strides = broadcast_strides(b_shape, out);
  return make_loop_kernel([=, index = std::vector<int64_t>(out.size(), 0)]() mutable {
    walk_broadcast(out, a_strides, b_strides, index,
                   [&](int64_t i, int64_t ia, int64_t ib) { y[i] = apply(kind, a[ia], b[ib]); });
  });
}

}  // namespace

std::unique_ptr<Kernel> compile_broadcast_copy(const float* x, float* y, const Shape& x_shape,
                                               const Shape& out) {
  const std::vector<int64_t> strides = broadcast_strides(x_shape, out);
  return make_loop_kernel([=, index = std::vector<int64_t>(out.size(), 0)]() mutable {
    walk_broadcast(out, strides, strides, index,
                   [&](int64_t i, int64_t offset, int64_t) { y[i] = x[offset]; });
  });
}

Shape broadcast_shape(const Node& node, const Shape& a, const Shape& b) {
  const size_t rank = std::max(a.size(), b.size());
  const Shape pa = padded(a, rank), pb = padded(b, rank);
  Shape out(rank);
  for (size_t d = 0; d < rank; ++d) {
    if (pa[d] != pb[d] && pa[d] != 1 && pb[d] != 1) {
      fail_node(node, "shapes " + to_string(a) + " and " + to_string(b) +
                          " do not broadcast (dimension " + std::to_string(d) + ": " +
                          std::to_string(pa[d]) + " vs " + std::to_string(pb[d]) + ")");
    }
    out[d] = std::max(pa[d], pb[d]);
  }
  return out;
}

std::unique_ptr<Kernel> compile_binary(BinaryKind kind, const Node& node, CompileContext& context) {
  ValueId a = node.inputs[0], b = node.inputs[1];
  const ValueId y = node.outputs[0];
  const Shape& out = context.type(y).shape;
  const bool commutative = kind == BinaryKind::add || kind == BinaryKind::mul;
  if (padded(context.type(a).shape, out.size()) != out && commutative &&
      padded(context.type(b).shape, out.size()) == out) {
    std::swap(a, b);
  }
  const Shape a_shape = padded(context.type(a).shape, out.size());
  if (a_shape != out || out.empty()) {
    return broadcast_loop(kind, context.f32(a), context.f32(b), context.f32(y),
                          context.type(a).shape, context.type(b).shape, out);
  }
  const auto y_desc = plain_desc(context.type(y));
  const auto b_desc = plain_desc(DType::f32, to_dims(padded(context.type(b).shape, out.size())));
  const dnnl::binary::primitive_desc descriptor(
      dnnl::binary::desc(algorithm_of(kind), y_desc, b_desc, y_desc), kernel_attributes(),
      context.engine());
  return std::make_unique<PrimitiveKernel>(
      descriptor, dnnl::binary(descriptor),
      std::vector<std::pair<int, dnnl::memory>>{{DNNL_ARG_SRC_0, context.memory(a, y_desc)},
                                                {DNNL_ARG_SRC_1, context.memory(b, b_desc)},
                                                {DNNL_ARG_DST, context.memory(y, y_desc)}},
      context);
}

void broadcast_reference(const ReferenceCall& call,
                         const std::function<double(double, double)>& f) {
  const Shape& out = call.output_shape(0);
  const std::vector<int64_t> a_strides = broadcast_strides(call.input_shape(0), out);
  const std::vector<int64_t> b_strides = broadcast_strides(call.input_shape(1), out);
  std::vector<int64_t> index(out.size(), 0);
  walk_broadcast(out, a_strides, b_strides, index, [&](int64_t i, int64_t a, int64_t b) {
    call.outputs[0][size_t(i)] = f(call.inputs[0][size_t(a)], call.inputs[1][size_t(b)]);
  });
}

std::vector<TensorType> BroadcastingBinaryOp::infer(const Node& node,
                                                    std::span<const TensorType> inputs) const {
  expect_dtype(node, inputs, 0, DType::f32);
  expect_dtype(node, inputs, 1, DType::f32);
  return {TensorType{DType::f32, broadcast_shape(node, inputs[0].shape, inputs[1].shape)}};
}

ValueId reduce_to_operand(GradientBuilder& builder, const Node& node, ValueId gradient,
                          ValueId operand) {
  const Shape& target = builder.graph().value(operand).type.shape;
  if (builder.graph().value(gradient).type.shape == target) return gradient;
  return builder.emit(node, "sum_to_shape", {gradient}, {{"shape", target}});
}

}  // namespace loom
