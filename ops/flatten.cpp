// flatten: [batch, d1, d2, ...] -> [batch, d1·d2·...] (Keras's Flatten). A reshape that needs
// no attribute; its gradient reshapes dy back.

#include "ops/reshape_common.hpp"

namespace loom {

namespace {

class Flatten final : public ReshapingOp {
 public:
  std::string_view name() const override { return "flatten"; }
  OpSignature signature() const override { return {.inputs = {"x"}}; }

  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override {
    if (inputs[0].rank() < 1) fail_node(node, "expected x with a batch dimension, got a scalar");
    const int64_t batch = inputs[0].shape[0];
    return {TensorType{inputs[0].dtype, {batch, inputs[0].numel() / batch}}};
  }
};

}  // namespace

void register_flatten(OpRegistry& registry) {
  registry.add(std::make_unique<Flatten>());
}

}  // namespace loom
