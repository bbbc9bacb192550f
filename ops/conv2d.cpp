// conv2d(x, kernel[, bias]): Keras's Conv2D on channels-last images. x is [N, H, W, Cin], the
// kernel [KH, KW, Cin/groups, Cout] (Keras's layout), the bias [Cout]; attributes strides,
// padding (valid / same / explicit with pads), dilation, groups (Keras's groups, PyTorch's:
// group g's filters read only group g's Cin/groups channels; groups = Cin is a depthwise
// convolution) and activation (none / relu, applied as a oneDNN post-op, its gradient read
// from the output as for fused_matmul).
//
// Layouts: each of the three primitives is described with format_tag::any and negotiates the
// formats oneDNN chose (typically channels blocked by 16 for data, and a blocked kernel), so
// its AVX-512 direct kernels run instead of the gemm-based ones plain layouts get (2-4x
// slower for these shapes). Activations stay blocked from one convolution or pooling to the
// next; the plan reorders only where a plain reader or writer meets them (the kernel from the
// parameter store, its gradient back to it, a flatten).
//
// Gradients: dz = dy through the activation; dx = conv2d_backward_data(dz, kernel);
// dkernel and dbias = conv2d_backward_weights(x, dz), one primitive computing both.

#include "engine/exec/compile_context.hpp"
#include "engine/exec/layout.hpp"
#include "engine/exec/primitive_kernel.hpp"
#include "ops/window_common.hpp"

namespace loom {

namespace {

using Tag = dnnl::memory::format_tag;

// A kernel [KH, KW, I/G, O] as oneDNN's (O, I/G, KH, KW) dims, or with G groups its grouped
// (G, O/G, I/G, KH, KW) dims; in `tag`, or without one, as the kernel's plain bytes (hwio,
// where a group's filters lie side by side within each input channel's row).
dnnl::memory::desc kernel_desc(const Shape& shape, int64_t groups, std::optional<Tag> tag = {}) {
  const auto f32 = dnnl::memory::data_type::f32;
  if (groups == 1) {
    return dnnl::memory::desc({shape[3], shape[2], shape[0], shape[1]}, f32,
                              tag.value_or(Tag::hwio));
  }
  const dnnl::memory::dims dims = {groups, shape[3] / groups, shape[2], shape[0], shape[1]};
  if (tag) return dnnl::memory::desc(dims, f32, *tag);
  const int64_t out = shape[3], in = shape[2];
  return dnnl::memory::desc(
      dims, f32, dnnl::memory::dims{out / groups, 1, out, shape[1] * in * out, in * out});
}

dnnl::memory::desc any_image_desc(const Shape& shape) {  // [N, H, W, C]
  return dnnl::memory::desc({shape[0], shape[3], shape[1], shape[2]}, dnnl::memory::data_type::f32,
                            Tag::any);
}

std::vector<AttributeSpec> conv_attributes() {
  std::vector<AttributeSpec> specs = window_attributes(false);
  specs.push_back({"activation", AttributeKind::text, "none (default) or relu"});
  specs.push_back({"groups", AttributeKind::integer,
                   "filters in groups reading their share of the channels (default 1)"});
  return specs;
}

// The groups attribute, checked against x's channels and the kernel's filters.
int64_t conv_groups(const Node& node, const Shape& x, const Shape& kernel) {
  const int64_t groups = node.attributes.get_int("groups", 1);
  if (groups < 1 || groups > x[3] || x[3] % groups != 0 || kernel[3] % groups != 0) {
    fail_node(node, "groups " + std::to_string(groups) + " must divide the input's " +
                        std::to_string(x[3]) + " channels and the kernel's " +
                        std::to_string(kernel[3]) + " filters");
  }
  return groups;
}

// Checks the operands and returns the window for x [N, H, W, C] and kernel [KH, KW, C/G, O].
Window conv_window(const Node& node, const Shape& x, const Shape& kernel) {
  if (x.size() != 4)
    fail_node(node, "expected x [batch, height, width, channels], got " + to_string(x));
  if (kernel.size() != 4) {
    fail_node(node,
              "expected a kernel [height, width, in_channels, filters], got " + to_string(kernel));
  }
  const int64_t groups = conv_groups(node, x, kernel);
  if (kernel[2] * groups != x[3]) {
    fail_node(node, "the kernel " + to_string(kernel) + " expects " +
                        std::to_string(kernel[2] * groups) + " input channels" +
                        (groups == 1 ? "" : " (" + std::to_string(groups) + " groups)") + ", x " +
                        to_string(x) + " has " + std::to_string(x[3]));
  }
  return read_window(node, x[1], x[2], kernel[0], kernel[1], true);
}

Shape output_shape(const Shape& x, const Shape& kernel, const Window& w) {
  return {x[0], w.axes[0].output, w.axes[1].output, kernel[3]};
}

// One convolution's geometry: what its forward and both backward primitives are made from.
struct ConvGeometry {
  Shape x, kernel, y;
  Window window;
  int64_t groups = 1;
  bool bias = false;
  bool relu = false;
};

// The geometry of the node's convolution (for a backward op, of its forward convolution:
// the attributes are the forward's, with the activation set to none).
ConvGeometry geometry(const Node& node, const Shape& x, const Shape& kernel, bool bias) {
  ConvGeometry g{.x = x,
                 .kernel = kernel,
                 .window = conv_window(node, x, kernel),
                 .groups = conv_groups(node, x, kernel),
                 .bias = bias};
  g.y = output_shape(x, kernel, g.window);
  g.relu = node.attributes.get_text("activation", "none") == "relu";
  return g;
}

dnnl::memory::desc bias_desc(const ConvGeometry& g) {
  return g.bias ? plain_desc(DType::f32, {g.kernel[3]}) : dnnl::memory::desc();
}

// The formats a convolution's primitives are made with: format_tag::any while layouts are
// negotiated (oneDNN chooses), then, when the node is compiled, the layouts the plan settled
// on (the same choices, or plain nhwc / hwio in a plan with plain layouts only).
struct ConvDescs {
  dnnl::memory::desc x, kernel, y;
};

ConvDescs any_descs(const ConvGeometry& g) {
  return {any_image_desc(g.x), kernel_desc(g.kernel, g.groups, Tag::any), any_image_desc(g.y)};
}

// The formats a compiled primitive is built with: what oneDNN chose while negotiating when the
// plan holds every operand arranged that way (so nchw stands for a one-channel nhwc image),
// else what the plan holds (a plan with plain layouts only: mixing the two would leave oneDNN
// with no fast kernel).
ConvDescs compiled_descs(const ConvGeometry& g, const CompileContext& context, ValueId x,
                         ValueId kernel, ValueId y, const ConvDescs& chosen) {
  const ConvDescs held = {context.held_desc(x, nhwc_desc(g.x)),
                          context.held_desc(kernel, kernel_desc(g.kernel, g.groups)),
                          context.held_desc(y, nhwc_desc(g.y))};
  const bool as_chosen = same_arrangement(held.x, chosen.x) &&
                         same_arrangement(held.kernel, chosen.kernel) &&
                         same_arrangement(held.y, chosen.y);
  return as_chosen ? chosen : held;
}

// The forward primitive on the given formats; a backward primitive takes it, on its own
// formats, as its hint (a hint in other formats makes oneDNN fall back to reference kernels).
dnnl::convolution_forward::primitive_desc forward_primitive(const ConvGeometry& g,
                                                            const ConvDescs& d,
                                                            const dnnl::engine& engine) {
  const Window& w = g.window;
  dnnl::primitive_attr attributes = kernel_attributes();
  if (g.relu) {
    dnnl::post_ops post_ops;
    post_ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
    attributes.set_post_ops(post_ops);
  }
  return dnnl::convolution_forward::primitive_desc(
      dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training,
                                      dnnl::algorithm::convolution_direct, d.x, d.kernel,
                                      bias_desc(g), d.y, window_strides(w), window_dilation(w),
                                      padding_begin(w), padding_end(w)),
      attributes, engine);
}

Layout image_layout(const dnnl::memory::desc& chosen, const Shape& shape) {
  return Layout::chosen(chosen, nhwc_desc(shape));
}
Layout kernel_layout(const dnnl::memory::desc& chosen, const ConvGeometry& g) {
  return Layout::chosen(chosen, kernel_desc(g.kernel, g.groups));
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

  void negotiate_layouts(const Node& node, LayoutNegotiation& negotiation) const override {
    const ConvGeometry g = geometry_of(node, negotiation.type(node.inputs[1]).shape);
    const ConvDescs d = chosen_descs(g, negotiation.engine());
    negotiation.want(0, image_layout(d.y, g.y));
    negotiation.want(1, kernel_layout(d.kernel, g));
    negotiation.produce(0, image_layout(d.x, g.x));
  }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const ConvGeometry g = geometry_of(node, context.type(node.inputs[1]).shape);
    const ConvDescs d = compiled_descs(g, context, node.outputs[0], node.inputs[1], node.inputs[0],
                                       chosen_descs(g, context.engine()));
    const auto primitive = backward_primitive(g, d, context.engine());
    return std::make_unique<PrimitiveKernel>(
        primitive, dnnl::convolution_backward_data(primitive),
        std::vector<std::pair<int, dnnl::memory>>{
            {DNNL_ARG_DIFF_DST, context.memory(node.inputs[0], d.y)},
            {DNNL_ARG_WEIGHTS, context.memory(node.inputs[1], d.kernel)},
            {DNNL_ARG_DIFF_SRC, context.memory(node.outputs[0], d.x)}},
        context);
  }

 private:
  static ConvGeometry geometry_of(const Node& node, const Shape& kernel) {
    return geometry(node, node.attributes.get_ints("input_shape", {}), kernel, false);
  }
  static ConvDescs chosen_descs(const ConvGeometry& g, const dnnl::engine& engine) {
    const auto primitive = backward_primitive(g, any_descs(g), engine);
    return {primitive.diff_src_desc(), primitive.weights_desc(), primitive.diff_dst_desc()};
  }
  static dnnl::convolution_backward_data::primitive_desc backward_primitive(
      const ConvGeometry& g, const ConvDescs& d, const dnnl::engine& engine) {
    const Window& w = g.window;
    return dnnl::convolution_backward_data::primitive_desc(
        dnnl::convolution_backward_data::desc(dnnl::algorithm::convolution_direct, d.x, d.kernel,
                                              d.y, window_strides(w), window_dilation(w),
                                              padding_begin(w), padding_end(w)),
        kernel_attributes(), engine, forward_primitive(g, d, engine));
  }
};

// conv2d_backward_weights(x, dy) with kernel_shape and with_bias: d loss / dkernel and, with
// with_bias, d loss / dbias as a second output (the primitive sums dy while it reads it).
class Conv2DBackwardWeights final : public Op {
 public:
  std::string_view name() const override { return "conv2d_backward_weights"; }
  OpSignature signature() const override {
    std::vector<AttributeSpec> attributes = backward_attributes("kernel_shape");
    attributes.push_back({"with_bias", AttributeKind::boolean, "also output the bias gradient"});
    return {.inputs = {"x", "dy"}, .attributes = attributes, .internal = true};
  }
  std::vector<TensorType> infer(const Node& node, std::span<const TensorType>) const override {
    const Shape kernel = node.attributes.get_ints("kernel_shape", {});
    std::vector<TensorType> outputs = {TensorType{DType::f32, kernel}};
    if (node.attributes.get_bool("with_bias", false)) {
      outputs.push_back(TensorType{DType::f32, {kernel.at(3)}});
    }
    return outputs;
  }
  int64_t flops(const Node& node, const Graph& graph) const override {
    const Shape& dy = graph.value(node.inputs[1]).type.shape;
    const Shape& kernel = graph.value(node.outputs[0]).type.shape;
    return 2 * numel(dy) * kernel[0] * kernel[1] * kernel[2];
  }

  void negotiate_layouts(const Node& node, LayoutNegotiation& negotiation) const override {
    const ConvGeometry g = geometry_of(node, negotiation.type(node.inputs[0]).shape);
    const ConvDescs d = chosen_descs(g, negotiation.engine());
    negotiation.want(0, image_layout(d.x, g.x));
    negotiation.want(1, image_layout(d.y, g.y));
    negotiation.produce(0, kernel_layout(d.kernel, g));
  }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const ConvGeometry g = geometry_of(node, context.type(node.inputs[0]).shape);
    const ConvDescs d = compiled_descs(g, context, node.inputs[0], node.outputs[0], node.inputs[1],
                                       chosen_descs(g, context.engine()));
    const auto primitive = backward_primitive(g, d, context.engine());
    std::vector<std::pair<int, dnnl::memory>> arguments = {
        {DNNL_ARG_SRC, context.memory(node.inputs[0], d.x)},
        {DNNL_ARG_DIFF_DST, context.memory(node.inputs[1], d.y)},
        {DNNL_ARG_DIFF_WEIGHTS, context.memory(node.outputs[0], d.kernel)}};
    if (g.bias) arguments.emplace_back(DNNL_ARG_DIFF_BIAS, context.memory(node.outputs[1]));
    return std::make_unique<PrimitiveKernel>(
        primitive, dnnl::convolution_backward_weights(primitive), std::move(arguments), context);
  }

 private:
  static ConvGeometry geometry_of(const Node& node, const Shape& x) {
    return geometry(node, x, node.attributes.get_ints("kernel_shape", {}),
                    node.attributes.get_bool("with_bias", false));
  }
  static ConvDescs chosen_descs(const ConvGeometry& g, const dnnl::engine& engine) {
    const auto primitive = backward_primitive(g, any_descs(g), engine);
    return {primitive.src_desc(), primitive.diff_weights_desc(), primitive.diff_dst_desc()};
  }
  static dnnl::convolution_backward_weights::primitive_desc backward_primitive(
      const ConvGeometry& g, const ConvDescs& d, const dnnl::engine& engine) {
    const Window& w = g.window;
    return dnnl::convolution_backward_weights::primitive_desc(
        dnnl::convolution_backward_weights::desc(
            dnnl::algorithm::convolution_direct, d.x, d.kernel, bias_desc(g), d.y,
            window_strides(w), window_dilation(w), padding_begin(w), padding_end(w)),
        kernel_attributes(), engine, forward_primitive(g, d, engine));
  }
};

}  // namespace

void register_conv2d(OpRegistry& registry) {
  registry.add(std::make_unique<Conv2D>());
  registry.add(std::make_unique<Conv2DBackwardData>());
  registry.add(std::make_unique<Conv2DBackwardWeights>());
}

}  // namespace loom
