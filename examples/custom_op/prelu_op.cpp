// A custom op as a plugin, in one file: prelu, a relu whose negative slope is learned per
// feature (He et al. 2015, Keras's PReLU layer):
//
//   y[b, c] = x[b, c]               where x[b, c] > 0
//             alpha[c] · x[b, c]    elsewhere
//
// Both inputs have gradients, so both the data path and the parameter path are exercised:
//   dx[b, c]  = dy[b, c] · (x[b, c] > 0 ? 1 : alpha[c])
//   dalpha[c] = Σ_b dy[b, c] · min(x[b, c], 0)
// The backward is a second op with two outputs (dx, dalpha), emitted by prelu's gradient rule.

#include <algorithm>

#include "engine/core/error.hpp"
#include "engine/exec/compile_context.hpp"
#include "engine/exec/loop_kernel.hpp"
#include "engine/plugin/plugin.hpp"

namespace {

using namespace loom;

// x is [batch, features] and alpha is [features].
void expect_prelu_operands(const Node& node, std::span<const TensorType> inputs) {
  expect_rank(node, inputs, 0, 2);
  expect_rank(node, inputs, 1, 1);
  if (inputs[1].shape[0] != inputs[0].shape[1]) {
    fail_node(node, "alpha " + to_string(inputs[1]) + " needs one slope per feature of x " +
                        to_string(inputs[0]));
  }
}

class PRelu final : public Op {
 public:
  std::string_view name() const override { return "prelu"; }
  OpSignature signature() const override { return {.inputs = {"x", "alpha"}}; }

  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override {
    expect_prelu_operands(node, inputs);
    return {inputs[0]};
  }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const float* x = context.f32(node.inputs[0]);
    const float* alpha = context.f32(node.inputs[1]);
    float* y = context.f32(node.outputs[0]);
    const int64_t rows = context.type(node.inputs[0]).shape[0];
    const int64_t features = context.type(node.inputs[0]).shape[1];
    return make_loop_kernel([=] {
      for (int64_t b = 0; b < rows; ++b) {
        const float* x_row = x + b * features;
        float* y_row = y + b * features;
        for (int64_t c = 0; c < features; ++c) {
          y_row[c] = x_row[c] > 0 ? x_row[c] : alpha[c] * x_row[c];
        }
      }
    });
  }

  // The definition in double precision, by the plainest loop: the gradient checker takes
  // finite differences of it and checks the kernel against it.
  bool has_reference() const override { return true; }
  void reference(const ReferenceCall& call) const override {
    const std::span<const double> x = call.inputs[0], alpha = call.inputs[1];
    for (size_t i = 0; i < x.size(); ++i) {
      call.outputs[0][i] = x[i] > 0 ? x[i] : alpha[i % alpha.size()] * x[i];
    }
  }

  std::vector<std::optional<ValueId>> gradient(GradientBuilder& builder,
                                               const GradientRequest& request) const override {
    const Node& node = request.node;
    const std::vector<ValueId> gradients = builder.emit_multi(
        node, "prelu_backward", {request.output_gradient(), node.inputs[0], node.inputs[1]});
    return {gradients[0], gradients[1]};
  }
};

// prelu_backward(dy, x, alpha) -> (dx, dalpha)
class PReluBackward final : public Op {
 public:
  std::string_view name() const override { return "prelu_backward"; }
  OpSignature signature() const override {
    return {.inputs = {"dy", "x", "alpha"}, .internal = true};
  }

  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override {
    expect_prelu_operands(node, inputs.subspan(1));
    return {inputs[1], inputs[2]};
  }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const float* dy = context.f32(node.inputs[0]);
    const float* x = context.f32(node.inputs[1]);
    const float* alpha = context.f32(node.inputs[2]);
    float* dx = context.f32(node.outputs[0]);
    float* dalpha = context.f32(node.outputs[1]);
    const int64_t rows = context.type(node.inputs[1]).shape[0];
    const int64_t features = context.type(node.inputs[1]).shape[1];
    return make_loop_kernel([=] {
      std::fill(dalpha, dalpha + features, 0.f);
      for (int64_t b = 0; b < rows; ++b) {
        for (int64_t c = 0; c < features; ++c) {
          const int64_t i = b * features + c;
          const bool positive = x[i] > 0;
          dx[i] = positive ? dy[i] : alpha[c] * dy[i];
          dalpha[c] += positive ? 0.f : dy[i] * x[i];
        }
      }
    });
  }
};

// The op as a layer for the `layers:` form, {prelu: {}, alpha: 0.25}: a slope per feature,
// a parameter named <layer>/alpha, after a dense layer without an activation.
void expand_prelu_layer(LayerBuilder& layer, const Attributes& options) {
  if (layer.input_shape().size() != 1) {
    throw InputError("prelu needs a flat input per sample, got " + to_string(layer.input_shape()));
  }
  const std::string alpha = layer.add_parameter(
      "alpha", layer.input_shape(), {.name = "constant", .value = options.get_real("alpha", 0.25)});
  layer.add_node("", "prelu", {layer.input(), alpha});
}

}  // namespace

LOOM_PLUGIN(registrar) {
  registrar.ops.add(std::make_unique<PRelu>());
  registrar.ops.add(std::make_unique<PReluBackward>());
  registrar.layers.add("prelu",
                       {.options = {real_option("alpha", 0.25, any_value(),
                                                "the initial slope of every feature (He et al.; "
                                                "Keras's PReLU starts at 0)")},
                        .expand = expand_prelu_layer,
                        .description = "a relu with a learned negative slope per feature"});
}
