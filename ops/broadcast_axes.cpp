// broadcast_axes(x) with attributes axes and shape: the output has `shape`; x has that shape
// without `axes`, and is repeated along them. Internal: the gradient of the reductions.

#include "engine/exec/compile_context.hpp"
#include "ops/broadcast_common.hpp"

namespace loom {

namespace {

// x's shape with 1 inserted at each broadcast axis, or an error.
Shape kept_dims_shape(const Node& node, const Shape& x, const Shape& out) {
  const std::vector<int64_t> axes = node.attributes.get_ints("axes", {});
  Shape kept;
  size_t next = 0;
  for (size_t d = 0; d < out.size(); ++d) {
    if (std::ranges::find(axes, int64_t(d)) != axes.end()) {
      kept.push_back(1);
    } else if (next < x.size() && x[next] == out[d]) {
      kept.push_back(x[next++]);
    } else {
      fail_node(node, "cannot broadcast " + to_string(x) + " to " + to_string(out));
    }
  }
  if (next != x.size())
    fail_node(node, "cannot broadcast " + to_string(x) + " to " + to_string(out));
  return kept;
}

class BroadcastAxes final : public Op {
 public:
  std::string_view name() const override { return "broadcast_axes"; }
  OpSignature signature() const override {
    return {.inputs = {"x"},
            .attributes = {{"axes", AttributeKind::integers, "the axes to repeat along"},
                           {"shape", AttributeKind::integers, "the output shape"}},
            .internal = true};
  }
  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override {
    const Shape out = node.attributes.get_ints("shape", {});
    kept_dims_shape(node, inputs[0].shape, out);
    return {TensorType{DType::f32, out}};
  }
  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const Shape& out = context.type(node.outputs[0]).shape;
    return compile_broadcast_copy(context.f32(node.inputs[0]), context.f32(node.outputs[0]),
                                  kept_dims_shape(node, context.type(node.inputs[0]).shape, out),
                                  out);
  }
};

}  // namespace

void register_broadcast_axes(OpRegistry& registry) {
  registry.add(std::make_unique<BroadcastAxes>());
}

}  // namespace loom
