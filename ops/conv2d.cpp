// conv2d(x, kernel[, bias]): Keras's Conv2D on channels-last images. x is [N, H, W, Cin], the
// kernel [KH, KW, Cin, Cout] (Keras's layout), the bias [Cout]; attributes strides, padding
// (valid / same), dilation and activation (none / relu, applied as a oneDNN post-op, its
// gradient read from the output as for fused_matmul). oneDNN's convolution runs on these
// layouts directly (nhwc data, hwio weights), so the plan never reorders.
//
// Gradients: dz = dy through the activation; dx = conv2d_backward_data(dz, kernel),
// dkernel = conv2d_backward_weights(x, dz), dbias = Σ over N, H, W of dz.

#include "engine/exec/compile_context.hpp"
#include "engine/exec/primitive_kernel.hpp"
#include "ops/window_common.hpp"

namespace loom {

namespace {

dnnl::memory::desc kernel_desc(const Shape& shape) {  // [KH, KW, I, O]
  return dnnl::memory::desc({shape[3], shape[2], shape[0], shape[1]}, dnnl::memory::data_type::f32,
                            dnnl::memory::format_tag::hwio);
}

std::vector<AttributeSpec> conv_attributes() {
  std::vector<AttributeSpec> specs = window_attributes(false);
  specs.push_back({"activation", AttributeKind::text, "none (default) or relu"});
  return specs;
}

// Checks the operands and returns the window for x [N, H, W, C] and kernel [KH, KW, C, O].
Window conv_window(const Node& node, const Shape& x, const Shape& kernel) {
  if (x.size() != 4)
    fail_node(node, "expected x [batch, height, width, channels], got " + to_string(x));
  if (kernel.size() != 4) {
    fail_node(node,
              "expected a kernel [height, width, in_channels, filters], got " + to_string(kernel));
  }
  if (kernel[2] != x[3]) {
    fail_node(node, "the kernel " + to_string(kernel) + " expects " + std::to_string(kernel[2]) +
                        " input channels, x " + to_string(x) + " has " + std::to_string(x[3]));
  }
  return read_window(node, x[1], x[2], kernel[0], kernel[1], true);
}

Shape output_shape(const Shape& x, const Shape& kernel, const Window& w) {
  return {x[0], w.axes[0].output, w.axes[1].output, kernel[3]};
}

dnnl::convolution_forward::desc forward_desc(const Window& w, const dnnl::memory::desc& x,
                                             const dnnl::memory::desc& kernel,
                                             const dnnl::memory::desc& bias,
                                             const dnnl::memory::desc& y) {
  return dnnl::convolution_forward::desc(
      dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, x, kernel, bias, y,
      window_strides(w), window_dilation(w), padding_begin(w), padding_end(w));
}

class Conv2D final : public Op {
 public:
  std::string_view name() const override { return "conv2d"; }
  OpSignature signature() const override {
    return {
        .inputs = {"x", "kernel", "bias"}, .optional_inputs = 1, .attributes = conv_attributes()};
  }

  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override {
    const Window w = conv_window(node, inputs[0].shape, inputs[1].shape);
    if (inputs.size() == 3 && inputs[2].shape != Shape{inputs[1].shape[3]}) {
      fail_node(node, "bias " + to_string(inputs[2]) + " needs one value per filter (" +
                          std::to_string(inputs[1].shape[3]) + ")");
    }
    const std::string activation = node.attributes.get_text("activation", "none");
    if (activation != "none" && activation != "relu") {
      fail_node(node, "unknown activation '" + activation + "' (known: none, relu)");
    }
    return {TensorType{DType::f32, output_shape(inputs[0].shape, inputs[1].shape, w)}};
  }

  int64_t flops(const Node& node, const Graph& graph) const override {
    const Shape& y = graph.value(node.outputs[0]).type.shape;
    const Shape& kernel = graph.value(node.inputs[1]).type.shape;
    return 2 * numel(y) * kernel[0] * kernel[1] * kernel[2];
  }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const Shape& x = context.type(node.inputs[0]).shape;
    const Shape& kernel = context.type(node.inputs[1]).shape;
    const Window w = conv_window(node, x, kernel);
    const auto x_desc = nhwc_desc(x), k_desc = kernel_desc(kernel);
    const auto y_desc = nhwc_desc(context.type(node.outputs[0]).shape);
    const bool has_bias = node.inputs.size() == 3;
    const dnnl::memory::desc bias_desc =
        has_bias ? plain_desc(context.type(node.inputs[2])) : dnnl::memory::desc();
    dnnl::primitive_attr attributes = kernel_attributes();
    if (node.attributes.get_text("activation", "none") == "relu") {
      dnnl::post_ops post_ops;
      post_ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
      attributes.set_post_ops(post_ops);
    }
    const dnnl::convolution_forward::primitive_desc descriptor(
        forward_desc(w, x_desc, k_desc, bias_desc, y_desc), attributes, context.engine());
    std::vector<std::pair<int, dnnl::memory>> arguments = {
        {DNNL_ARG_SRC, context.memory(node.inputs[0], x_desc)},
        {DNNL_ARG_WEIGHTS, context.memory(node.inputs[1], k_desc)},
        {DNNL_ARG_DST, context.memory(node.outputs[0], y_desc)}};
    if (has_bias) arguments.emplace_back(DNNL_ARG_BIAS, context.memory(node.inputs[2], bias_desc));
    return std::make_unique<PrimitiveKernel>(descriptor, dnnl::convolution_forward(descriptor),
                                             std::move(arguments), context);
  }

  std::vector<std::optional<ValueId>> gradient(GradientBuilder& builder,
                                               const GradientRequest& request) const override {
    const Node& node = request.node;
    ValueId dz = request.output_gradient();
    if (node.attributes.get_text("activation", "none") == "relu") {
      dz = builder.emit(node, "relu_backward", {dz, node.outputs[0]});
    }
    Attributes window = node.attributes;
    window.set("activation", std::string("none"));
    std::vector<std::optional<ValueId>> gradients(node.inputs.size());
    if (request.wanted[0]) {
      Attributes attributes = window;
      attributes.set("input_shape", builder.graph().value(node.inputs[0]).type.shape);
      gradients[0] = builder.emit(node, "conv2d_backward_data", {dz, node.inputs[1]}, attributes);
    }
    if (request.wanted[1]) {
      Attributes attributes = window;
      attributes.set("kernel_shape", builder.graph().value(node.inputs[1]).type.shape);
      gradients[1] =
          builder.emit(node, "conv2d_backward_weights", {node.inputs[0], dz}, attributes);
    }
    if (node.inputs.size() == 3 && request.wanted[2]) {
      gradients[2] =
          builder.emit(node, "reduce_sum", {dz}, {{"axes", std::vector<int64_t>{0, 1, 2}}});
    }
    return gradients;
  }
};

std::vector<AttributeSpec> backward_attributes(const char* shape_name) {
  std::vector<AttributeSpec> specs = conv_attributes();
  specs.push_back({shape_name, AttributeKind::integers, "the forward operand's shape"});
  return specs;
}

// conv2d_backward_data(dy, kernel) with input_shape: d loss / dx.
class Conv2DBackwardData final : public Op {
 public:
  std::string_view name() const override { return "conv2d_backward_data"; }
  OpSignature signature() const override {
    return {.inputs = {"dy", "kernel"},
            .attributes = backward_attributes("input_shape"),
            .internal = true};
  }
  std::vector<TensorType> infer(const Node& node, std::span<const TensorType>) const override {
    return {TensorType{DType::f32, node.attributes.get_ints("input_shape", {})}};
  }
  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const Shape x = node.attributes.get_ints("input_shape", {});
    const Shape& kernel = context.type(node.inputs[1]).shape;
    const Window w = conv_window(node, x, kernel);
    const auto x_desc = nhwc_desc(x), k_desc = kernel_desc(kernel);
    const auto y_desc = nhwc_desc(context.type(node.inputs[0]).shape);
    const dnnl::convolution_forward::primitive_desc hint(
        forward_desc(w, x_desc, k_desc, dnnl::memory::desc(), y_desc), kernel_attributes(),
        context.engine());
    const dnnl::convolution_backward_data::primitive_desc descriptor(
        dnnl::convolution_backward_data::desc(dnnl::algorithm::convolution_direct, x_desc, k_desc,
                                              y_desc, window_strides(w), window_dilation(w),
                                              padding_begin(w), padding_end(w)),
        kernel_attributes(), context.engine(), hint);
    return std::make_unique<PrimitiveKernel>(
        descriptor, dnnl::convolution_backward_data(descriptor),
        std::vector<std::pair<int, dnnl::memory>>{
            {DNNL_ARG_DIFF_DST, context.memory(node.inputs[0], y_desc)},
            {DNNL_ARG_WEIGHTS, context.memory(node.inputs[1], k_desc)},
            {DNNL_ARG_DIFF_SRC, context.memory(node.outputs[0], x_desc)}},
        context);
  }
};

// conv2d_backward_weights(x, dy) with kernel_shape: d loss / dkernel.
class Conv2DBackwardWeights final : public Op {
 public:
  std::string_view name() const override { return "conv2d_backward_weights"; }
  OpSignature signature() const override {
    return {
        .inputs = {"x", "dy"}, .attributes = backward_attributes("kernel_shape"), .internal = true};
  }
  std::vector<TensorType> infer(const Node& node, std::span<const TensorType>) const override {
    return {TensorType{DType::f32, node.attributes.get_ints("kernel_shape", {})}};
  }
  int64_t flops(const Node& node, const Graph& graph) const override {
    const Shape& dy = graph.value(node.inputs[1]).type.shape;
    const Shape& kernel = graph.value(node.outputs[0]).type.shape;
    return 2 * numel(dy) * kernel[0] * kernel[1] * kernel[2];
  }
  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const Shape& x = context.type(node.inputs[0]).shape;
    const Shape kernel = node.attributes.get_ints("kernel_shape", {});
    const Window w = conv_window(node, x, kernel);
    const auto x_desc = nhwc_desc(x), k_desc = kernel_desc(kernel);
    const auto y_desc = nhwc_desc(context.type(node.inputs[1]).shape);
    const dnnl::convolution_forward::primitive_desc hint(
        forward_desc(w, x_desc, k_desc, dnnl::memory::desc(), y_desc), kernel_attributes(),
        context.engine());
    const dnnl::convolution_backward_weights::primitive_desc descriptor(
        dnnl::convolution_backward_weights::desc(
            dnnl::algorithm::convolution_direct, x_desc, k_desc, dnnl::memory::desc(), y_desc,
            window_strides(w), window_dilation(w), padding_begin(w), padding_end(w)),
        kernel_attributes(), context.engine(), hint);
    return std::make_unique<PrimitiveKernel>(
        descriptor, dnnl::convolution_backward_weights(descriptor),
        std::vector<std::pair<int, dnnl::memory>>{
            {DNNL_ARG_SRC, context.memory(node.inputs[0], x_desc)},
            {DNNL_ARG_DIFF_DST, context.memory(node.inputs[1], y_desc)},
            {DNNL_ARG_DIFF_WEIGHTS, context.memory(node.outputs[0], k_desc)}},
        context);
  }
};

}  // namespace

void register_conv2d(OpRegistry& registry) {
  registry.add(std::make_unique<Conv2D>());
  registry.add(std::make_unique<Conv2DBackwardData>());
  registry.add(std::make_unique<Conv2DBackwardWeights>());
}

}  // namespace loom
