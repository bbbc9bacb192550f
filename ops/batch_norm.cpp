// batch_norm(x, gamma, beta, moving_mean, moving_variance) -> (y, batch_mean, batch_variance):
// Keras's BatchNormalization over the last axis (channels last; x is [N, C] or [N, H, W, C]).
//   training graph: y = gamma·(x - mean_B)/sqrt(var_B + epsilon) + beta with the batch's mean
//     and (biased) variance, and moving = momentum·moving + (1 - momentum)·batch statistic;
//   any other graph, or with `frozen: true`: the moving statistics instead, left unchanged.
// Attributes momentum (Keras: 0.99), epsilon (Keras: 1e-3) and frozen (Keras runs a layer with
// trainable=False in inference mode, in training too, so fine-tuning keeps its statistics). The
// batch statistics are outputs so that batch_norm_backward can use them: (dy, x, gamma, beta, mean,
// variance) -> (dx, dgamma, dbeta). Differentiated in any other graph, or frozen, it is an affine
// map of x with the moving statistics as constants: dx = gamma·dy/sqrt(moving_variance + epsilon).
//
// oneDNN 2.6 sums a channel in float32, forward and backward: at a convnet's 43,264 values per
// channel the batch mean is up to 1e-4 (relative) off and the preceding convolution's update
// percents off. So the batch statistics and the whole backward pass are the engine's own loops
// in double (ops/batch_statistics.hpp), and oneDNN only normalizes, with the statistics given
// (use_global_stats).
//
// Layouts: x is normalized in whatever layout it arrives in when its channels are innermost
// (channels last, or a convolution's blocks of channels, which stay blocked), else plain; y
// and dx are written in it, and dy is read in it; the per-channel tensors are plain.

#include <algorithm>
#include <cmath>

#include "engine/exec/compile_context.hpp"
#include "engine/exec/layout.hpp"
#include "engine/exec/loop_kernel.hpp"
#include "engine/exec/primitive_kernel.hpp"
#include "ops/batch_statistics.hpp"
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

// Whether the node normalizes with its batch's statistics (and updates the moving ones).
bool uses_batch_statistics(const Node& node, bool training_graph) {
  return training_graph && !node.attributes.get_bool("frozen", false);
}

// The layout x is normalized in: the one it arrives in, when the statistics loops can walk it.
Layout walkable(const Layout& arriving) {
  if (arriving.is_plain()) return arriving;
  return !arriving.is_opaque() && BatchStatistics::supports(arriving.native()) ? arriving
                                                                               : Layout();
}

// y = gamma·(x - mean)/sqrt(variance + epsilon) + beta with the mean and variance given.
std::unique_ptr<PrimitiveKernel> normalize_kernel(const Node& node, CompileContext& context,
                                                  const dnnl::memory::desc& desc, ValueId mean,
                                                  ValueId variance) {
  const auto channels = plain_desc(context.type(node.inputs[1]));
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
          {DNNL_ARG_MEAN, context.memory(mean, channels)},
          {DNNL_ARG_VARIANCE, context.memory(variance, channels)},
          {DNNL_ARG_DST, context.memory(node.outputs[0], desc)}},
      context);
}

class BatchNorm final : public Op {
 public:
  std::string_view name() const override { return "batch_norm"; }
  OpSignature signature() const override {
    return {.inputs = {"x", "gamma", "beta", "moving_mean", "moving_variance"},
            .attributes = {{"momentum", AttributeKind::real, "of the moving statistics (0.99)"},
                           {"epsilon", AttributeKind::real, "added to the variance (0.001)"},
                           {"frozen", AttributeKind::boolean,
                            "normalize with the moving statistics and keep them, in training "
                            "too (Keras's trainable=False; false)"}},
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
    const Layout layout = walkable(negotiation.incoming(0));
    negotiation.want(0, layout);
    negotiation.produce(0, layout);
  }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const Shape& x = context.type(node.inputs[0]).shape;
    const auto desc = context.held_desc(node.inputs[0], data_desc(x));
    if (!uses_batch_statistics(node, context.graph().training())) {
      return normalize_kernel(node, context, desc, node.inputs[3], node.inputs[4]);
    }
    auto normalize = normalize_kernel(node, context, desc, node.outputs[1], node.outputs[2]);
    auto statistics = std::make_unique<BatchStatistics>(desc);
    const float momentum = float(node.attributes.get_real("momentum", 0.99));
    const float* data = context.f32(node.inputs[0]);
    float* mean = context.f32(node.outputs[1]);
    float* variance = context.f32(node.outputs[2]);
    float* moving_mean = context.f32(node.inputs[3]);
    float* moving_variance = context.f32(node.inputs[4]);
    const int64_t count = x.back();
    return make_loop_kernel(
        [=, statistics = std::move(statistics), normalize = std::move(normalize)] {
          statistics->forward(data, mean, variance);
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
    if (uses_batch_statistics(call.node, call.training)) {
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
    // A training graph normalized with the batch's statistics (outputs 1 and 2), any other
    // graph with the moving ones (inputs 3 and 4), which are constants to its gradient.
    const bool training = uses_batch_statistics(node, builder.graph().training());
    Attributes attributes = node.attributes;
    attributes.set("moving_statistics", !training);
    const std::vector<ValueId> gradients = builder.emit_multi(
        node, "batch_norm_backward",
        {request.output_gradient(), node.inputs[0], node.inputs[1], node.inputs[2],
         training ? node.outputs[1] : node.inputs[3], training ? node.outputs[2] : node.inputs[4]},
        attributes);
    return {gradients[0], gradients[1], gradients[2], std::nullopt, std::nullopt};
  }
};

class BatchNormBackward final : public Op {
 public:
  std::string_view name() const override { return "batch_norm_backward"; }
  OpSignature signature() const override {
    // beta is not needed for the gradient (it was an argument of oneDNN's backward primitive,
    // which the kernel no longer uses); it stays an input so that backward graphs, and what
    // prints or checks them, are unchanged.
    return {.inputs = {"dy", "x", "gamma", "beta", "mean", "variance"},
            .attributes = {{"momentum", AttributeKind::real, ""},
                           {"epsilon", AttributeKind::real, ""},
                           {"frozen", AttributeKind::boolean, ""},
                           {"moving_statistics", AttributeKind::boolean,
                            "mean and variance are the moving statistics (an inference graph)"}},
            .internal = true};
  }
  std::vector<TensorType> infer(const Node&, std::span<const TensorType> inputs) const override {
    return {inputs[1], inputs[2], inputs[2]};
  }
  // dx over dy: the kernel has summed dy before it writes dx, element by element, and writing
  // the lines it has just read saves fetching dx's (the backward pass's cost is memory).
  std::optional<size_t> in_place_input(const Node&) const override { return 0; }
  // dy and dx in the layout x was normalized in.
  void negotiate_layouts(const Node&, LayoutNegotiation& negotiation) const override {
    const Layout layout = walkable(negotiation.incoming(1));
    negotiation.want(0, layout);
    negotiation.want(1, layout);
    negotiation.produce(0, layout);
  }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const Shape& x = context.type(node.inputs[1]).shape;
    auto statistics =
        std::make_unique<BatchStatistics>(context.held_desc(node.inputs[1], data_desc(x)));
    const float* dy = context.f32(node.inputs[0]);
    const float* data = context.f32(node.inputs[1]);
    const float* gamma = context.f32(node.inputs[2]);
    const float* mean = context.f32(node.inputs[4]);
    const float* variance = context.f32(node.inputs[5]);
    float* dx = context.f32(node.outputs[0]);
    float* dgamma = context.f32(node.outputs[1]);
    float* dbeta = context.f32(node.outputs[2]);
    const float epsilon = epsilon_of(node);
    const bool moving = node.attributes.get_bool("moving_statistics", false);
    return make_loop_kernel([=, statistics = std::move(statistics)] {
      statistics->backward(dy, data, gamma, mean, variance, epsilon, moving, dx, dgamma, dbeta);
    });
  }
};

}  // namespace

void register_batch_norm(OpRegistry& registry) {
  registry.add(std::make_unique<BatchNorm>());
  registry.add(std::make_unique<BatchNormBackward>());
}

}  // namespace loom
