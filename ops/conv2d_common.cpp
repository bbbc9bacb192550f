#include "ops/conv2d_common.hpp"

namespace loom::conv {

namespace {

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

}  // namespace

// A kernel [KH, KW, I/G, O] as oneDNN's (O, I/G, KH, KW) dims, or with G groups its grouped
// (G, O/G, I/G, KH, KW) dims; in `tag`, or without one, as the kernel's plain bytes (hwio,
// where a group's filters lie side by side within each input channel's row).
dnnl::memory::desc kernel_desc(const Shape& shape, int64_t groups, std::optional<Tag> tag) {
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

std::vector<AttributeSpec> conv_attributes() {
  std::vector<AttributeSpec> specs = window_attributes(false);
  specs.push_back({"activation", AttributeKind::text, "none (default) or relu"});
  specs.push_back({"groups", AttributeKind::integer,
                   "filters in groups reading their share of the channels (default 1)"});
  return specs;
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

Shape conv_output_shape(const Shape& x, const Shape& kernel, const Window& w) {
  return {x[0], w.axes[0].output, w.axes[1].output, kernel[3]};
}

// The geometry of the node's convolution (for a backward op, of its forward convolution:
// the attributes are the forward's, with the activation set to none).
ConvGeometry geometry(const Node& node, const Shape& x, const Shape& kernel, bool bias) {
  ConvGeometry g{.x = x,
                 .kernel = kernel,
                 .window = conv_window(node, x, kernel),
                 .groups = conv_groups(node, x, kernel),
                 .bias = bias};
  g.y = conv_output_shape(x, kernel, g.window);
  g.relu = node.attributes.get_text("activation", "none") == "relu";
  return g;
}

dnnl::memory::desc bias_desc(const ConvGeometry& g) {
  return g.bias ? plain_desc(DType::f32, {g.kernel[3]}) : dnnl::memory::desc();
}

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
  return winograd_or_direct(g, [&](dnnl::algorithm algorithm, bool allow_empty) {
    return dnnl::convolution_forward::primitive_desc(
        dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, algorithm, d.x, d.kernel,
                                        bias_desc(g), d.y, window_strides(w), window_dilation(w),
                                        padding_begin(w), padding_end(w)),
        attributes, engine, allow_empty);
  });
}

bool winograd_applies(const ConvGeometry& g) {
  const Window& w = g.window;
  // (oneDNN also takes fewer channels, padded to a block of 16, and then is several times
  // slower than direct: 3.1 against 0.64 ms forward for the book's one-channel conv2d.)
  const auto fills_blocks = [](int64_t channels) { return channels % 16 == 0; };
  return fills_blocks(g.x[3]) && fills_blocks(g.kernel[3]) && g.groups == 1 && w.kernel[0] == 3 &&
         w.kernel[1] == 3 && w.strides[0] == 1 && w.strides[1] == 1 && w.dilation[0] == 1 &&
         w.dilation[1] == 1;
}

Layout image_layout(const dnnl::memory::desc& chosen, const Shape& shape) {
  return Layout::chosen(chosen, nhwc_desc(shape));
}
Layout kernel_layout(const dnnl::memory::desc& chosen, const ConvGeometry& g) {
  return Layout::chosen(chosen, kernel_desc(g.kernel, g.groups));
}

std::vector<AttributeSpec> backward_attributes(const char* shape_name) {
  std::vector<AttributeSpec> specs = conv_attributes();
  specs.push_back({shape_name, AttributeKind::integers, "the forward operand's shape"});
  return specs;
}

}  // namespace loom::conv
