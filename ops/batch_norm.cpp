// batch_norm(x, gamma, beta, moving_mean, moving_variance) -> (y, batch_mean, batch_variance):
// Keras's BatchNormalization over the last axis (channels last; x is [N, C] or [N, H, W, C]).
//   training graph: y = gamma·(x - mean_B)/sqrt(var_B + epsilon) + beta with the batch's mean
//     and (biased) variance, and moving = momentum·moving + (1 - momentum)·batch statistic;
//   any other graph: the moving statistics instead (oneDNN's use_global_stats).
// Attributes momentum (Keras: 0.99) and epsilon (Keras: 1e-3). The batch statistics are
// outputs so that batch_norm_backward can use them: (dy, x, gamma, mean, variance) ->
// (dx, dgamma, dbeta), oneDNN's batch_normalization_backward (which also takes beta).
//
// Layouts: x is normalized in whatever layout it arrives in (a convolution's blocked output
// stays blocked), y and dx are written in it, and dy is read in it; the per-channel tensors
// are plain.

#include <algorithm>
#include <cmath>

#include "engine/exec/compile_context.hpp"
#include "engine/exec/layout.hpp"
#include "engine/exec/loop_kernel.hpp"
#include "engine/exec/primitive_kernel.hpp"
#include "ops/window_common.hpp"

namespace loom {

namespace {

const auto kScaleShift =
    dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;

dnnl::memory::desc data_desc(const Shape& shape) {
  return shape.size() == 4 ? nhwc_desc(shape) : plain_desc(DType::f32, to_dims(shape));
}

// One reading of the attribute for the kernels and the reference, so their defaults agree.
double epsilon_attribute(const Node& node) {
  return node.attributes.get_real("epsilon", 1e-3);
}

float epsilon_of(const Node& node) {
  return float(epsilon_attribute(node));
}

dnnl::batch_normalization_forward::primitive_desc training_descriptor(const Node& node,
                                                                      const dnnl::memory::desc& x,
                                                                      const dnnl::engine& engine) {
  return dnnl::batch_normalization_forward::primitive_desc(
      dnnl::batch_normalization_forward::desc(dnnl::prop_kind::forward_training, x,
                                              epsilon_of(node), kScaleShift),
      kernel_attributes(), engine);
}

class BatchNorm final : public Op {
 public:
  std::string_view name() const override { return "batch_norm"; }
  OpSignature signature() const override {
    return {.inputs = {"x", "gamma", "beta", "moving_mean", "moving_variance"},
            .attributes = {{"momentum", AttributeKind::real, "of the moving statistics (0.99)"},
                           {"epsilon", AttributeKind::real, "added to the variance (0.001)"}},
            .auxiliary_outputs = 2};
  }

  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override {
    expect_dtype(node, inputs, 0, DType::f32);
    const Shape& x = inputs[0].shape;
    if (x.size() != 2 && x.size() != 4) {
      fail_node(node, "expected x [batch, channels] or [batch, height, width, channels], got " +
                          to_string(inputs[0]));
    }
    for (size_t i = 1; i < 5; ++i) {
      if (inputs[i].shape != Shape{x.back()}) {
        fail_node(node, describe_input(node, inputs, i) + " needs one value per channel (" +
                            std::to_string(x.back()) + ")");
      }
    }
    const double momentum = node.attributes.get_real("momentum", 0.99);
    if (!(momentum >= 0 && momentum <= 1)) fail_node(node, "momentum must be in [0, 1]");
    if (!(epsilon_of(node) > 0)) fail_node(node, "epsilon must be positive");
    const TensorType channels{DType::f32, {x.back()}};
    return {inputs[0], channels, channels};
  }

  void negotiate_layouts(const Node&, LayoutNegotiation& negotiation) const override {
    negotiation.want(0, negotiation.incoming(0));
    negotiation.produce(0, negotiation.incoming(0));
  }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const Shape& x = context.type(node.inputs[0]).shape;
    const auto desc = context.held_desc(node.inputs[0], data_desc(x));
    const auto channels = plain_desc(context.type(node.inputs[1]));
    if (!context.graph().training()) {
      const dnnl::batch_normalization_forward::primitive_desc descriptor(
          dnnl::batch_normalization_forward::desc(
              dnnl::prop_kind::forward_inference, desc, epsilon_of(node),
              kScaleShift | dnnl::normalization_flags::use_global_stats),
          kernel_attributes(), context.engine());
      return std::make_unique<PrimitiveKernel>(
          descriptor, dnnl::batch_normalization_forward(descriptor),
          std::vector<std::pair<int, dnnl::memory>>{
              {DNNL_ARG_SRC, context.memory(node.inputs[0], desc)},
              {DNNL_ARG_SCALE, context.memory(node.inputs[1], channels)},
              {DNNL_ARG_SHIFT, context.memory(node.inputs[2], channels)},
              {DNNL_ARG_MEAN, context.memory(node.inputs[3], channels)},
              {DNNL_ARG_VARIANCE, context.memory(node.inputs[4], channels)},
              {DNNL_ARG_DST, context.memory(node.outputs[0], desc)}},
          context);
    }
    const auto descriptor = training_descriptor(node, desc, context.engine());
    auto normalize = std::make_unique<PrimitiveKernel>(
        descriptor, dnnl::batch_normalization_forward(descriptor),
        std::vector<std::pair<int, dnnl::memory>>{
            {DNNL_ARG_SRC, context.memory(node.inputs[0], desc)},
            {DNNL_ARG_SCALE, context.memory(node.inputs[1], channels)},
            {DNNL_ARG_SHIFT, context.memory(node.inputs[2], channels)},
            {DNNL_ARG_DST, context.memory(node.outputs[0], desc)},
            {DNNL_ARG_MEAN, context.memory(node.outputs[1], channels)},
            {DNNL_ARG_VARIANCE, context.memory(node.outputs[2], channels)}},
        context);
    const float momentum = float(node.attributes.get_real("momentum", 0.99));
    const float* mean = context.f32(node.outputs[1]);
    const float* variance = context.f32(node.outputs[2]);
    float* moving_mean = context.f32(node.inputs[3]);
    float* moving_variance = context.f32(node.inputs[4]);
    const int64_t count = x.back();
    return make_loop_kernel([=, normalize = std::move(normalize)] {
      normalize->run();
      for (int64_t c = 0; c < count; ++c) {
        moving_mean[c] = momentum * moving_mean[c] + (1 - momentum) * mean[c];
        moving_variance[c] = momentum * moving_variance[c] + (1 - momentum) * variance[c];
      }
    });
  }

  // Per channel c (the last axis), over every other index: in a training graph the batch's
  // mean and biased variance, computed in double and written as the auxiliary outputs too;
  // otherwise the moving statistics. y = gamma·(x - mean)/sqrt(variance + epsilon) + beta.
  // Updating the moving statistics is a side effect of training, not part of the value.
  bool has_reference() const override { return true; }
  void reference(const ReferenceCall& call) const override {
    const std::span<const double> x = call.inputs[0], gamma = call.inputs[1], beta = call.inputs[2];
    const size_t channels = gamma.size();
    const auto rows = double(x.size() / channels);
    std::vector<double> mean(channels, 0.0), variance(channels, 0.0);
    if (call.training) {
      for (size_t i = 0; i < x.size(); ++i) mean[i % channels] += x[i];
      for (double& m : mean) m /= rows;
      for (size_t i = 0; i < x.size(); ++i) {
        const double deviation = x[i] - mean[i % channels];
        variance[i % channels] += deviation * deviation;
      }
      for (double& v : variance) v /= rows;
      std::ranges::copy(mean, call.outputs[1].begin());
      std::ranges::copy(variance, call.outputs[2].begin());
    } else {
      std::ranges::copy(call.inputs[3], mean.begin());
      std::ranges::copy(call.inputs[4], variance.begin());
    }
    const double epsilon = epsilon_attribute(call.node);
    for (size_t i = 0; i < x.size(); ++i) {
      const size_t c = i % channels;
      call.outputs[0][i] = gamma[c] * (x[i] - mean[c]) / std::sqrt(variance[c] + epsilon) + beta[c];
    }
  }

  std::vector<std::optional<ValueId>> gradient(GradientBuilder& builder,
                                               const GradientRequest& request) const override {
    const Node& node = request.node;
    const std::vector<ValueId> gradients =
        builder.emit_multi(node, "batch_norm_backward",
                           {request.output_gradient(), node.inputs[0], node.inputs[1],
                            node.inputs[2], node.outputs[1], node.outputs[2]},
                           node.attributes);
    return {gradients[0], gradients[1], gradients[2], std::nullopt, std::nullopt};
  }
};

class BatchNormBackward final : public Op {
 public:
  std::string_view name() const override { return "batch_norm_backward"; }
  OpSignature signature() const override {
    // beta is not needed for the gradient, but oneDNN 2.6's backward primitive insists on
    // its shift argument when the forward used one.
    return {
        .inputs = {"dy", "x", "gamma", "beta", "mean", "variance"},
        .attributes = {{"momentum", AttributeKind::real, ""}, {"epsilon", AttributeKind::real, ""}},
        .internal = true};
  }
  std::vector<TensorType> infer(const Node&, std::span<const TensorType> inputs) const override {
    return {inputs[1], inputs[2], inputs[2]};
  }
  // dy and dx in the layout x arrives in.
  void negotiate_layouts(const Node&, LayoutNegotiation& negotiation) const override {
    negotiation.want(0, negotiation.incoming(1));
    negotiation.want(1, negotiation.incoming(1));
    negotiation.produce(0, negotiation.incoming(1));
  }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const Shape& x = context.type(node.inputs[1]).shape;
    const auto desc = context.held_desc(node.inputs[1], data_desc(x));
    const auto channels = plain_desc(context.type(node.inputs[2]));
    const dnnl::batch_normalization_backward::primitive_desc descriptor(
        dnnl::batch_normalization_backward::desc(dnnl::prop_kind::backward, desc, desc,
                                                 epsilon_of(node), kScaleShift),
        kernel_attributes(), context.engine(), training_descriptor(node, desc, context.engine()));
    return std::make_unique<PrimitiveKernel>(
        descriptor, dnnl::batch_normalization_backward(descriptor),
        std::vector<std::pair<int, dnnl::memory>>{
            {DNNL_ARG_DIFF_DST, context.memory(node.inputs[0], desc)},
            {DNNL_ARG_SRC, context.memory(node.inputs[1], desc)},
            {DNNL_ARG_SCALE, context.memory(node.inputs[2], channels)},
            {DNNL_ARG_SHIFT, context.memory(node.inputs[3], channels)},
            {DNNL_ARG_MEAN, context.memory(node.inputs[4], channels)},
            {DNNL_ARG_VARIANCE, context.memory(node.inputs[5], channels)},
            {DNNL_ARG_DIFF_SRC, context.memory(node.outputs[0], desc)},
            {DNNL_ARG_DIFF_SCALE, context.memory(node.outputs[1], channels)},
            {DNNL_ARG_DIFF_SHIFT, context.memory(node.outputs[2], channels)}},
        context);
  }
};

}  // namespace

void register_batch_norm(OpRegistry& registry) {
  registry.add(std::make_unique<BatchNorm>());
  registry.add(std::make_unique<BatchNormBackward>());
}

}  // namespace loom
