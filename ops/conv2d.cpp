// conv2d(x, kernel[, bias]): Keras's Conv2D on channels-last images. x is [N, H, W, Cin], the
// kernel [KH, KW, Cin/groups, Cout] (Keras's layout), the bias [Cout]; attributes strides,
// padding (valid / same / explicit with pads), dilation, groups (Keras's groups, PyTorch's:
// group g's filters read only group g's Cin/groups channels; groups = Cin is a depthwise
// convolution) and activation (none / relu, applied as a oneDNN post-op, its gradient read
// from the output as for fused_matmul).
//
// Gradients: dz = dy through the activation; dx = conv2d_backward_data(dz, kernel);
// dkernel and dbias = conv2d_backward_weights(x, dz), one primitive computing both.
//
// Layouts: negotiated, oneDNN choosing each primitive's formats (see conv2d_common.hpp).

#include "ops/conv2d_common.hpp"

namespace loom {

namespace {

using namespace conv;

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
    return {TensorType{DType::f32, conv_output_shape(inputs[0].shape, inputs[1].shape, w)}};
  }

  int64_t flops(const Node& node, const Graph& graph) const override {
    return convolution_flops(graph.value(node.outputs[0]).type.shape,
                             graph.value(node.inputs[1]).type.shape);
  }

  // y[n, i, j, o] = bias[o] + Σ_{kh, kw, c} x[n, i·sh + kh·dh - top, j·sw + kw·dw - left,
  // first(o) + c] · kernel[kh, kw, c, o], a tap in the padding reading 0, where first(o) is
  // the first channel of o's group; then relu if asked.
  bool has_reference() const override { return true; }
  void reference(const ReferenceCall& call) const override {
    const Shape& x = call.input_shape(0);
    const Shape& k = call.input_shape(1);
    const ConvGeometry g = geometry_of(call.node, x, k);
    const Window& w = g.window;
    size_t written = 0;  // y is [N, OH, OW, O], row-major
    for (int64_t n = 0; n < g.y[0]; ++n) {
      for (int64_t i = 0; i < g.y[1]; ++i) {
        for (int64_t j = 0; j < g.y[2]; ++j) {
          for (int64_t o = 0; o < g.y[3]; ++o) {
            double total = g.bias ? call.inputs[2][size_t(o)] : 0.0;
            const int64_t first = o / (k[3] / g.groups) * k[2];
            for (int64_t kh = 0; kh < k[0]; ++kh) {
              const auto h = window_tap(w, 0, x[1], i, kh, w.dilation[0]);
              if (!h) continue;
              for (int64_t kw = 0; kw < k[1]; ++kw) {
                const auto v = window_tap(w, 1, x[2], j, kw, w.dilation[1]);
                if (!v) continue;
                for (int64_t c = 0; c < k[2]; ++c) {
                  total += call.inputs[0][offset4(x, n, *h, *v, first + c)] *
                           call.inputs[1][offset4(k, kh, kw, c, o)];
                }
              }
            }
            call.outputs[0][written++] = g.relu && total < 0 ? 0.0 : total;
          }
        }
      }
    }
  }

  void negotiate_layouts(const Node& node, LayoutNegotiation& negotiation) const override {
    const ConvGeometry g = geometry_of(node, negotiation.type(node.inputs[0]).shape,
                                       negotiation.type(node.inputs[1]).shape);
    const ConvDescs d = chosen_descs(g, negotiation.engine());
    negotiation.want(0, image_layout(d.x, g.x));
    negotiation.want(1, kernel_layout(d.kernel, g));
    negotiation.produce(0, image_layout(d.y, g.y));
  }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const ConvGeometry g =
        geometry_of(node, context.type(node.inputs[0]).shape, context.type(node.inputs[1]).shape);
    const ConvDescs d = compiled_descs(g, context, node.inputs[0], node.inputs[1], node.outputs[0],
                                       chosen_descs(g, context.engine()));
    const auto primitive = forward_primitive(g, d, context.engine());
    std::vector<std::pair<int, dnnl::memory>> arguments = {
        {DNNL_ARG_SRC, context.memory(node.inputs[0], d.x)},
        {DNNL_ARG_WEIGHTS, context.memory(node.inputs[1], d.kernel)},
        {DNNL_ARG_DST, context.memory(node.outputs[0], d.y)}};
    if (g.bias) arguments.emplace_back(DNNL_ARG_BIAS, context.memory(node.inputs[2]));
    return std::make_unique<PrimitiveKernel>(primitive, dnnl::convolution_forward(primitive),
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
    const bool bias_wanted = node.inputs.size() == 3 && request.wanted[2];
    if (request.wanted[1] || bias_wanted) {
      Attributes attributes = window;
      attributes.set("kernel_shape", builder.graph().value(node.inputs[1]).type.shape);
      attributes.set("with_bias", bias_wanted);
      const std::vector<ValueId> outputs =
          builder.emit_multi(node, "conv2d_backward_weights", {node.inputs[0], dz}, attributes);
      if (request.wanted[1]) gradients[1] = outputs[0];
      if (bias_wanted) gradients[2] = outputs[1];
    }
    return gradients;
  }

 private:
  static ConvGeometry geometry_of(const Node& node, const Shape& x, const Shape& kernel) {
    return geometry(node, x, kernel, node.inputs.size() == 3);
  }
  // The formats oneDNN picks for this primitive.
  static ConvDescs chosen_descs(const ConvGeometry& g, const dnnl::engine& engine) {
    const auto primitive = forward_primitive(g, any_descs(g), engine);
    return {primitive.src_desc(), primitive.weights_desc(), primitive.dst_desc()};
  }
};

}  // namespace

void register_conv2d(OpRegistry& registry) {
  registry.add(std::make_unique<Conv2D>());
  register_conv2d_backward(registry);
}

}  // namespace loom
