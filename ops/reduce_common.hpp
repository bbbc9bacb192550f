#pragma once
// What reduce_sum and reduce_mean share: the axes attribute (negative counts from the end;
// Keras's keepdims=False, so reduced axes disappear from the shape) and the gradient, which
// spreads dy back over the reduced axes with the internal op broadcast_axes.

#include <oneapi/dnnl/dnnl.hpp>

#include "engine/exec/kernel.hpp"
#include "engine/graph/op.hpp"

namespace loom {

// Which axes of a tensor of `rank` are reduced; errors name the node.
std::vector<bool> reduced_axes(const Node& node, int64_t rank);

std::vector<TensorType> reduce_shape_rule(const Node& node, std::span<const TensorType> inputs);

// A oneDNN reduction of the node's input into its output, the output viewed with `y_dims`
// (the input's rank, reduced axes 1: the same memory as the squeezed result).
std::unique_ptr<Kernel> compile_reduction(dnnl::algorithm algorithm, const Node& node,
                                          CompileContext& context,
                                          const dnnl::memory::dims& y_dims);

// y[j] = Σ_r x[r·columns + j]: summing over leading dimensions, row after row so the inner
// loop is contiguous. oneDNN 2.6 runs this shape (the bias gradient) with its reference
// kernel, measured ~40x slower at 32x512.
std::unique_ptr<Kernel> compile_row_sum(const float* x, float* y, int64_t rows, int64_t columns);

// The input's dims with each reduced axis set to 1.
dnnl::memory::dims kept_dims(const Node& node, const TensorType& x);

// The reference (Op::reference) of reduce_sum (mean = false) and reduce_mean: every element
// of x added, in double, to the output element its index has once the reduced axes are
// dropped; a mean then divides by how many were added to each.
void reduce_reference(const ReferenceCall& call, bool mean);

// d(loss)/dx for y = reduce(x): dy broadcast back to x's shape, times `factor` (1 for a sum,
// 1/count for a mean).
ValueId spread_over_reduced_axes(GradientBuilder& builder, const Node& node, ValueId dy,
                                 double factor);

}  // namespace loom
