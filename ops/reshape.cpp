// reshape(x) with attribute shape: the same values in another shape (Keras's ops.reshape,
// batch dimension included); one entry may be -1 and is then inferred. The memory planner
// lets the output share x's buffer when nothing else reads x, and then the kernel does
// nothing; otherwise it copies. The gradient is dy reshaped back.

#include "engine/core/checked.hpp"
#include "ops/reshape_common.hpp"

namespace loom {

namespace {

class Reshape final : public ReshapingOp {
 public:
  std::string_view name() const override { return "reshape"; }
  OpSignature signature() const override {
    return {
        .inputs = {"x"},
        .attributes = {{"shape", AttributeKind::integers, "the new shape; one -1 is inferred"}}};
  }

  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override {
    Shape shape = node.attributes.get_ints("shape", {});
    if (shape.empty()) fail_node(node, "the attribute 'shape' is required");
    int64_t known = 1, inferred = -1;
    for (size_t i = 0; i < shape.size(); ++i) {
      if (shape[i] == -1) {
        if (inferred >= 0) fail_node(node, "only one dimension of the shape may be -1");
        inferred = int64_t(i);
      } else if (shape[i] <= 0) {
        fail_node(node, "dimension " + std::to_string(i) + " of the shape is " +
                            std::to_string(shape[i]) + " (expected a positive size or -1)");
      } else {
        known = checked_mul(known, shape[i], "the shape's size");  // may wrap: 2^62 · 4
      }
    }
    const int64_t count = inputs[0].numel();
    if (inferred >= 0 && count % known == 0) shape[size_t(inferred)] = count / known;
    // A -1 left in place (the count does not divide) is a mismatch, not a negative size.
    if ((inferred >= 0 && shape[size_t(inferred)] < 0) || numel(shape) != count) {
      fail_node(node, "cannot reshape " + to_string(inputs[0]) + " (" + std::to_string(count) +
                          " values) to " + to_string(node.attributes.get_ints("shape", {})));
    }
    return {TensorType{inputs[0].dtype, shape}};
  }
};

}  // namespace

void register_reshape(OpRegistry& registry) {
  registry.add(std::make_unique<Reshape>());
}

}  // namespace loom
