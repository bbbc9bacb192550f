// max_pool2d and avg_pool2d: Keras's MaxPooling2D and AveragePooling2D on channels-last images
// [N, H, W, C]; attributes pool_size (default [2, 2]), strides (default: the pool size) and
// padding (valid / same / explicit with pads; an average excludes the padding, as Keras's does,
// or with count_padding counts the padded taps as zeros, as PyTorch's AvgPool2d by default).
//
// Layouts: pooling runs on whatever layout its input arrives in (a convolution's blocked
// output stays blocked) and writes its output in the format oneDNN pairs with it. The
// backward op rebuilds the forward primitive as its hint from the format it is handed: the
// workspace's for max pooling (which is the forward output's), dy's for average pooling.
//
// Max pooling's backward routes each gradient to the element that won its window, which
// oneDNN records during the forward pass in a workspace: max_pool2d has it as a second output
// (an f32 tensor sized to hold the workspace's bytes) and max_pool2d_backward reads it.

#include <algorithm>
#include <limits>

#include "engine/exec/compile_context.hpp"
#include "engine/exec/layout.hpp"
#include "engine/exec/primitive_kernel.hpp"
#include "ops/window_common.hpp"

namespace loom {

namespace {

// oneDNN's algorithm for the node: the op's, or for an average that counts its padding, the
// one that divides by the whole window.
dnnl::algorithm pool_algorithm(const Node& node, dnnl::algorithm op_algorithm) {
  const bool count_padding = node.attributes.get_bool("count_padding", false);
  if (op_algorithm == dnnl::algorithm::pooling_max) {
    if (node.attributes.has("count_padding")) {
      fail_node(node, "count_padding is for avg_pool2d; a maximum never takes padding");
    }
    return op_algorithm;
  }
  return count_padding ? dnnl::algorithm::pooling_avg_include_padding
                       : dnnl::algorithm::pooling_avg_exclude_padding;
}

Window pool_window(const Node& node, const Shape& x) {
  if (x.size() != 4)
    fail_node(node, "expected x [batch, height, width, channels], got " + to_string(x));
  const std::vector<int64_t> size = node.attributes.get_ints("pool_size", {2, 2});
  if (size.empty() || size.size() > 2 || size[0] < 1 || size.back() < 1) {
    fail_node(node, "pool_size must be one or two positive integers");
  }
  return read_window(node, x[1], x[2], size[0], size.back(), false);
}

Shape pooled_shape(const Shape& x, const Window& w) {
  return {x[0], w.axes[0].output, w.axes[1].output, x[3]};
}

using Tag = dnnl::memory::format_tag;

// The forward primitive reading x in `x_desc` and writing y in `y_desc` (oneDNN's (N, C, H, W)
// dims; format_tag::any lets oneDNN pick the format it pairs with x's).
dnnl::pooling_v2_forward::primitive_desc forward_descriptor(dnnl::algorithm algorithm,
                                                            const Window& w,
                                                            const dnnl::memory::desc& x_desc,
                                                            const dnnl::memory::desc& y_desc,
                                                            const dnnl::engine& engine) {
  return dnnl::pooling_v2_forward::primitive_desc(
      dnnl::pooling_v2_forward::desc(dnnl::prop_kind::forward_training, algorithm, x_desc, y_desc,
                                     window_strides(w), window_kernel(w), {0, 0}, padding_begin(w),
                                     padding_end(w)),
      kernel_attributes(), engine);
}

// x's descriptor when it arrives in `layout`: its own format, or nhwc when plain.
dnnl::memory::desc image_desc(const Layout& layout, const Shape& x) {
  return layout.is_plain() ? nhwc_desc(x) : layout.native();
}

// The activation format `desc` is in, applied to an f32 image of shape x (nhwc when the
// format is none of the usual ones).
dnnl::memory::desc same_format(const dnnl::memory::desc& desc, const Shape& x) {
  for (Tag tag : {Tag::nhwc, Tag::nchw, Tag::nChw16c, Tag::nChw8c, Tag::nChw4c}) {
    if (same_arrangement(desc, dnnl::memory::desc(desc.dims(), desc.data_type(), tag))) {
      return dnnl::memory::desc({x[0], x[3], x[1], x[2]}, dnnl::memory::data_type::f32, tag);
    }
  }
  return nhwc_desc(x);
}

// The workspace's size in f32 elements, asked of oneDNN when the node's shape is inferred.
int64_t workspace_elements(const Window& w, const Shape& x) {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  const size_t bytes = forward_descriptor(dnnl::algorithm::pooling_max, w, nhwc_desc(x),
                                          nhwc_desc(pooled_shape(x, w)), engine)
                           .workspace_desc()
                           .get_size();
  return std::max<int64_t>(1, int64_t((bytes + 3) / 4));
}

class Pool final : public Op {
 public:
  Pool(std::string name, dnnl::algorithm algorithm)
      : name_(std::move(name)), algorithm_(algorithm) {}
  std::string_view name() const override { return name_; }
  OpSignature signature() const override {
    return {.inputs = {"x"},
            .attributes = window_attributes(true),
            .auxiliary_outputs = is_max() ? size_t(1) : size_t(0)};
  }
  bool is_max() const { return algorithm_ == dnnl::algorithm::pooling_max; }

  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override {
    expect_dtype(node, inputs, 0, DType::f32);
    pool_algorithm(node, algorithm_);  // refuses count_padding on a maximum
    const Window w = pool_window(node, inputs[0].shape);
    std::vector<TensorType> outputs = {TensorType{DType::f32, pooled_shape(inputs[0].shape, w)}};
    if (is_max()) outputs.push_back({DType::f32, {workspace_elements(w, inputs[0].shape)}});
    return outputs;
  }

  // Reads x in the layout it arrives in.
  void negotiate_layouts(const Node& node, LayoutNegotiation& negotiation) const override {
    const Shape& x = negotiation.type(node.inputs[0]).shape;
    const Window w = pool_window(node, x);
    const Shape y = pooled_shape(x, w);
    const auto descriptor = forward_descriptor(pool_algorithm(node, algorithm_), w,
                                               image_desc(negotiation.incoming(0), x),
                                               any_image_desc(y), negotiation.engine());
    negotiation.want(0, negotiation.incoming(0));
    negotiation.produce(0, Layout::chosen(descriptor.dst_desc(), nhwc_desc(y)));
    if (is_max()) negotiation.produce(1, Layout::opaque(descriptor.workspace_desc()));
  }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const Shape& x = context.type(node.inputs[0]).shape;
    const Window w = pool_window(node, x);
    const Shape y = pooled_shape(x, w);
    const auto x_desc = context.held_desc(node.inputs[0], nhwc_desc(x));
    const dnnl::algorithm algorithm = pool_algorithm(node, algorithm_);
    const auto chosen =
        forward_descriptor(algorithm, w, x_desc, any_image_desc(y), context.engine());
    const auto y_desc = context.held_desc(node.outputs[0], nhwc_desc(y), chosen.dst_desc());
    const auto descriptor = forward_descriptor(algorithm, w, x_desc, y_desc, context.engine());
    std::vector<std::pair<int, dnnl::memory>> arguments = {
        {DNNL_ARG_SRC, context.memory(node.inputs[0], x_desc)},
        {DNNL_ARG_DST, context.memory(node.outputs[0], y_desc)}};
    if (is_max()) {
      arguments.emplace_back(DNNL_ARG_WORKSPACE,
                             context.memory(node.outputs[1], descriptor.workspace_desc()));
    }
    return std::make_unique<PrimitiveKernel>(descriptor, dnnl::pooling_v2_forward(descriptor),
                                             std::move(arguments), context);
  }

  // Each output element: the maximum, or the mean, of its window's taps inside the image; a
  // tap in the padding is no candidate for the maximum and, unless count_padding, is not
  // counted in the mean (as in Keras). Pooling windows have no dilation. Max pooling's workspace
  // stays zero: it is the kernel's record for the backward pass, not part of the definition.
  bool has_reference() const override { return true; }
  void reference(const ReferenceCall& call) const override {
    const Shape& x = call.input_shape(0);
    const Window w = pool_window(call.node, x);
    const Shape y = pooled_shape(x, w);
    const bool count_padding =
        pool_algorithm(call.node, algorithm_) == dnnl::algorithm::pooling_avg_include_padding;
    size_t written = 0;  // y is [N, OH, OW, C], row-major
    for (int64_t n = 0; n < y[0]; ++n) {
      for (int64_t i = 0; i < y[1]; ++i) {
        for (int64_t j = 0; j < y[2]; ++j) {
          for (int64_t c = 0; c < y[3]; ++c) {
            double max = -std::numeric_limits<double>::infinity(), total = 0;
            int64_t count = 0;
            for (int64_t kh = 0; kh < w.kernel[0]; ++kh) {
              const auto h = window_tap(w, 0, x[1], i, kh, 1);
              if (!h) continue;
              for (int64_t kw = 0; kw < w.kernel[1]; ++kw) {
                const auto v = window_tap(w, 1, x[2], j, kw, 1);
                if (!v) continue;
                const double value = call.inputs[0][offset4(x, n, *h, *v, c)];
                max = std::max(max, value);
                total += value;
                ++count;
              }
            }
            if (count_padding) count = w.kernel[0] * w.kernel[1];
            call.outputs[0][written++] = is_max() ? max : total / double(count);
          }
        }
      }
    }
  }

  std::vector<std::optional<ValueId>> gradient(GradientBuilder& builder,
                                               const GradientRequest& request) const override {
    const Node& node = request.node;
    Attributes attributes = node.attributes;
    attributes.set("input_shape", builder.graph().value(node.inputs[0]).type.shape);
    std::vector<ValueId> inputs = {request.output_gradient()};
    if (is_max()) inputs.push_back(node.outputs[1]);
    return {builder.emit(node, name_ + "_backward", inputs, attributes)};
  }

 private:
  std::string name_;
  dnnl::algorithm algorithm_;
};

// <pool>_backward(dy[, workspace]) with input_shape: d loss / dx.
class PoolBackward final : public Op {
 public:
  PoolBackward(std::string name, dnnl::algorithm algorithm)
      : name_(std::move(name) + "_backward"), algorithm_(algorithm) {}
  std::string_view name() const override { return name_; }
  OpSignature signature() const override {
    std::vector<AttributeSpec> attributes = window_attributes(true);
    attributes.push_back({"input_shape", AttributeKind::integers, "the forward input's shape"});
    std::vector<std::string> inputs = {"dy"};
    if (algorithm_ == dnnl::algorithm::pooling_max) inputs.push_back("workspace");
    return {.inputs = inputs, .attributes = attributes, .internal = true};
  }
  std::vector<TensorType> infer(const Node& node, std::span<const TensorType>) const override {
    return {TensorType{DType::f32, node.attributes.get_ints("input_shape", {})}};
  }
  void negotiate_layouts(const Node& node, LayoutNegotiation& negotiation) const override {
    const Shape x = node.attributes.get_ints("input_shape", {});
    const Shape y = pooled_shape(x, pool_window(node, x));
    const auto hint =
        forward_hint(node, negotiation.incoming(is_max() ? 1 : 0), negotiation.engine());
    const auto descriptor =
        backward_descriptor(node, hint, any_image_desc(x), hint.dst_desc(), negotiation.engine());
    negotiation.want(0, Layout::chosen(descriptor.diff_dst_desc(), nhwc_desc(y)));
    if (is_max()) negotiation.want(1, Layout::opaque(hint.workspace_desc()));
    negotiation.produce(0, Layout::chosen(descriptor.diff_src_desc(), nhwc_desc(x)));
  }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const Shape x = node.attributes.get_ints("input_shape", {});
    const Shape y = pooled_shape(x, pool_window(node, x));
    const auto hint =
        forward_hint(node, context.layout(node.inputs[is_max() ? 1 : 0]), context.engine());
    const auto chosen =
        backward_descriptor(node, hint, any_image_desc(x), hint.dst_desc(), context.engine());
    const auto dy_desc = context.held_desc(node.inputs[0], nhwc_desc(y), chosen.diff_dst_desc());
    const auto dx_desc = context.held_desc(node.outputs[0], nhwc_desc(x), chosen.diff_src_desc());
    const auto descriptor = backward_descriptor(node, hint, dx_desc, dy_desc, context.engine());
    std::vector<std::pair<int, dnnl::memory>> arguments = {
        {DNNL_ARG_DIFF_DST, context.memory(node.inputs[0], dy_desc)},
        {DNNL_ARG_DIFF_SRC, context.memory(node.outputs[0], dx_desc)}};
    if (is_max()) {
      arguments.emplace_back(DNNL_ARG_WORKSPACE,
                             context.memory(node.inputs[1], hint.workspace_desc()));
    }
    return std::make_unique<PrimitiveKernel>(descriptor, dnnl::pooling_v2_backward(descriptor),
                                             std::move(arguments), context);
  }

 private:
  bool is_max() const { return algorithm_ == dnnl::algorithm::pooling_max; }

  // The forward primitive as it ran, recognised from `format_source` (the workspace for max
  // pooling, whose format is the forward output's; dy for average pooling).
  dnnl::pooling_v2_forward::primitive_desc forward_hint(const Node& node,
                                                        const Layout& format_source,
                                                        const dnnl::engine& engine) const {
    const Shape x = node.attributes.get_ints("input_shape", {});
    const Window w = pool_window(node, x);
    const dnnl::memory::desc x_desc =
        format_source.is_plain() ? nhwc_desc(x) : same_format(format_source.native(), x);
    return forward_descriptor(pool_algorithm(node, algorithm_), w, x_desc,
                              any_image_desc(pooled_shape(x, w)), engine);
  }

  dnnl::pooling_v2_backward::primitive_desc backward_descriptor(
      const Node& node, const dnnl::pooling_v2_forward::primitive_desc& hint,
      const dnnl::memory::desc& dx_desc, const dnnl::memory::desc& dy_desc,
      const dnnl::engine& engine) const {
    const Shape x = node.attributes.get_ints("input_shape", {});
    const Window w = pool_window(node, x);
    return dnnl::pooling_v2_backward::primitive_desc(
        dnnl::pooling_v2_backward::desc(pool_algorithm(node, algorithm_), dx_desc, dy_desc,
                                        window_strides(w), window_kernel(w), {0, 0},
                                        padding_begin(w), padding_end(w)),
        kernel_attributes(), engine, hint);
  }

  std::string name_;
  dnnl::algorithm algorithm_;
};

}  // namespace

void register_pooling(OpRegistry& registry) {
  for (const auto& [name, algorithm] :
       {std::pair{"max_pool2d", dnnl::algorithm::pooling_max},
        std::pair{"avg_pool2d", dnnl::algorithm::pooling_avg_exclude_padding}}) {
    registry.add(std::make_unique<Pool>(name, algorithm));
    registry.add(std::make_unique<PoolBackward>(name, algorithm));
  }
}

}  // namespace loom
