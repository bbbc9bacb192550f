// global_avg_pool2d: [N, H, W, C] -> [N, C], the mean over height and width (Keras's
// GlobalAveragePooling2D); the gradient spreads dy / (H·W) back over them.

#include "engine/exec/compile_context.hpp"
#include "ops/reduce_common.hpp"

namespace loom {

namespace {

class GlobalAvgPool2D final : public Op {
 public:
  std::string_view name() const override { return "global_avg_pool2d"; }
  OpSignature signature() const override { return {.inputs = {"x"}}; }

  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override {
    expect_rank(node, inputs, 0, 4);
    expect_dtype(node, inputs, 0, DType::f32);
    return {TensorType{DType::f32, {inputs[0].shape[0], inputs[0].shape[3]}}};
  }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const Shape& x = context.type(node.inputs[0]).shape;
    return compile_reduction(dnnl::algorithm::reduction_mean, node, context, {x[0], 1, 1, x[3]});
  }

  // y[n, c] = Σ_{h, w} x[n, h, w, c] / (H·W).
  bool has_reference() const override { return true; }
  void reference(const ReferenceCall& call) const override {
    const Shape& x = call.input_shape(0);
    const int64_t pixels = x[1] * x[2], channels = x[3];
    for (int64_t n = 0; n < x[0]; ++n) {
      for (int64_t c = 0; c < channels; ++c) {
        double total = 0;
        for (int64_t p = 0; p < pixels; ++p) {
          total += call.inputs[0][size_t((n * pixels + p) * channels + c)];
        }
        call.outputs[0][size_t(n * channels + c)] = total / double(pixels);
      }
    }
  }

  std::vector<std::optional<ValueId>> gradient(GradientBuilder& builder,
                                               const GradientRequest& request) const override {
    const Shape& x = builder.graph().value(request.node.inputs[0]).type.shape;
    const ValueId spread = builder.emit(request.node, "broadcast_axes", {request.output_gradient()},
                                        {{"axes", std::vector<int64_t>{1, 2}}, {"shape", x}});
    return {builder.emit(request.node, "scale", {spread}, {{"factor", 1.0 / double(x[1] * x[2])}})};
  }
};

}  // namespace

void register_global_avg_pool2d(OpRegistry& registry) {
  registry.add(std::make_unique<GlobalAvgPool2D>());
}

}  // namespace loom
