#pragma once
// Numpy-style broadcasting for the binary element-wise ops (add, sub, mul, div): shapes are
// aligned at their last dimension, and each pair of dimensions must be equal or contain a 1.
// The kernel is oneDNN's binary primitive when the first operand already has the output's
// shape (oneDNN 2.6 broadcasts only its second operand), and a strided loop otherwise.
// Gradients are reduced back to each operand's shape by the internal op sum_to_shape.

#include <functional>
#include <oneapi/dnnl/dnnl.hpp>

#include "engine/exec/kernel.hpp"
#include "engine/graph/op.hpp"

namespace loom {

// The broadcast result of two shapes, or an error naming the node and both shapes.
Shape broadcast_shape(const Node& node, const Shape& a, const Shape& b);

enum class BinaryKind { add, sub, mul, div };

std::unique_ptr<Kernel> compile_binary(BinaryKind kind, const Node& node, CompileContext& context);

// y = x broadcast from `x_shape` (same rank as `out`, 1 where broadcast) to `out`.
std::unique_ptr<Kernel> compile_broadcast_copy(const float* x, float* y, const Shape& x_shape,
                                               const Shape& out);

// The reference (Op::reference) of a broadcasting binary op: y = f(a, b) at every index of
// the output, each operand read at that index with the dimensions it lacks (at the front) or
// has of extent 1 held at 0, numpy's rule; written independently of the kernel's strides.
void broadcast_reference(const ReferenceCall& call, const std::function<double(double, double)>& f);

// sub, mul and div: two operands broadcast together; each op adds its gradient rule.
class BroadcastingBinaryOp : public Op {
 public:
  BroadcastingBinaryOp(std::string name, BinaryKind kind) : name_(std::move(name)), kind_(kind) {}
  std::string_view name() const override { return name_; }
  OpSignature signature() const override { return {.inputs = {"a", "b"}}; }
  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override;
  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    return compile_binary(kind_, node, context);
  }

 private:
  std::string name_;
  BinaryKind kind_;
};

// d(loss)/d(operand) summed over the dimensions the operand was broadcast along: `gradient`
// has the output's shape; the result has `operand`'s. No node when nothing was broadcast.
ValueId reduce_to_operand(GradientBuilder& builder, const Node& node, ValueId gradient,
                          ValueId operand);

}  // namespace loom
