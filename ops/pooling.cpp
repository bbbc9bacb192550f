// max_pool2d and avg_pool2d: Keras's MaxPooling2D and AveragePooling2D on channels-last images
// [N, H, W, C]; attributes pool_size (default [2, 2]), strides (default: the pool size) and
// padding (valid / same / explicit with pads; an average excludes the padding, as Keras's does,
// or with count_padding counts the padded taps as zeros, as PyTorch's AvgPool2d by default).
//
// Layouts: pooling runs on whatever layout its input arrives in (a convolution's blocked
// output stays blocked) and writes its output in the format oneDNN pairs with it. The
// average's backward op rebuilds the forward primitive as its hint from dy's format.
//
// Max pooling runs oneDNN's inference kernel in training too, and its backward is the engine's
// own loop (ops/max_pool2d_backward.cpp), which finds each window's winner again from x and y:
// oneDNN's training kernel, which records the winners in a workspace for its backward kernel,
// took 3 times as long forward (1.16 against 0.39 ms for the book convnet's first pool on
// AVX-512, 6.0 against 1.8 ms on AVX2) and its backward as long again.

#include <algorithm>
#include <limits>

#include "engine/exec/compile_context.hpp"
#include "engine/exec/layout.hpp"
#include "engine/exec/primitive_kernel.hpp"
#include "ops/pool_common.hpp"

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

// The forward primitive reading x in `x_desc` and writing y in `y_desc` (oneDNN's (N, C, H, W)
// dims; format_tag::any lets oneDNN pick the format it pairs with x's). Only an average's
// backward needs the training kind, as its hint; a maximum's would want a workspace.
dnnl::pooling_v2_forward::primitive_desc forward_descriptor(dnnl::algorithm algorithm,
                                                            const Window& w,
                                                            const dnnl::memory::desc& x_desc,
                                                            const dnnl::memory::desc& y_desc,
                                                            const dnnl::engine& engine) {
  const auto kind = algorithm == dnnl::algorithm::pooling_max ? dnnl::prop_kind::forward_inference
                                                              : dnnl::prop_kind::forward_training;
  return dnnl::pooling_v2_forward::primitive_desc(
      dnnl::pooling_v2_forward::desc(kind, algorithm, x_desc, y_desc, window_strides(w),
                                     window_kernel(w), {0, 0}, padding_begin(w), padding_end(w)),
      kernel_attributes(), engine);
}

// x's descriptor when it arrives in `layout`: its own format, or nhwc when plain.
dnnl::memory::desc image_desc(const Layout& layout, const Shape& x) {
  return layout.is_plain() ? nhwc_desc(x) : layout.native();
}

class Pool final : public Op {
 public:
  Pool(std::string name, dnnl::algorithm algorithm)
      : name_(std::move(name)), algorithm_(algorithm) {}
  std::string_view name() const override { return name_; }
  OpSignature signature() const override {
    return {.inputs = {"x"}, .attributes = window_attributes(true)};
  }
  bool is_max() const { return algorithm_ == dnnl::algorithm::pooling_max; }

  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override {
    expect_dtype(node, inputs, 0, DType::f32);
    pool_algorithm(node, algorithm_);  // refuses count_padding on a maximum
    const Window w = pool_window(node, inputs[0].shape);
    return {TensorType{DType::f32, pooled_shape(inputs[0].shape, w)}};
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
    return std::make_unique<PrimitiveKernel>(descriptor, dnnl::pooling_v2_forward(descriptor),
                                             std::move(arguments), context);
  }

  // Each output element: the maximum, or the mean, of its window's taps inside the image; a
  // tap in the padding is no candidate for the maximum and, unless count_padding, is not
  // counted in the mean (as in Keras). Pooling windows have no dilation.
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
    if (is_max()) {  // the winners are found again from x and y
      return {builder.emit(node, "max_pool2d_backward",
                           {request.output_gradient(), node.inputs[0], node.outputs[0]},
                           node.attributes)};
    }
    Attributes attributes = node.attributes;
    attributes.set("input_shape", builder.graph().value(node.inputs[0]).type.shape);
    return {builder.emit(node, "avg_pool2d_backward", {request.output_gradient()}, attributes)};
  }

 private:
  std::string name_;
  dnnl::algorithm algorithm_;
};

// avg_pool2d_backward(dy) with input_shape: d loss / dx, oneDNN's kernel.
class AvgPoolBackward final : public Op {
 public:
  std::string_view name() const override { return "avg_pool2d_backward"; }
  OpSignature signature() const override {
    std::vector<AttributeSpec> attributes = window_attributes(true);
    attributes.push_back({"input_shape", AttributeKind::integers, "the forward input's shape"});
    return {.inputs = {"dy"}, .attributes = attributes, .internal = true};
  }
  std::vector<TensorType> infer(const Node& node, std::span<const TensorType>) const override {
    return {TensorType{DType::f32, node.attributes.get_ints("input_shape", {})}};
  }
  void negotiate_layouts(const Node& node, LayoutNegotiation& negotiation) const override {
    const Shape x = node.attributes.get_ints("input_shape", {});
    const Shape y = pooled_shape(x, pool_window(node, x));
    const auto hint = forward_hint(node, negotiation.incoming(0), negotiation.engine());
    const auto descriptor =
        backward_descriptor(node, hint, any_image_desc(x), hint.dst_desc(), negotiation.engine());
    negotiation.want(0, Layout::chosen(descriptor.diff_dst_desc(), nhwc_desc(y)));
    negotiation.produce(0, Layout::chosen(descriptor.diff_src_desc(), nhwc_desc(x)));
  }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const Shape x = node.attributes.get_ints("input_shape", {});
    const Shape y = pooled_shape(x, pool_window(node, x));
    const auto hint = forward_hint(node, context.layout(node.inputs[0]), context.engine());
    const auto chosen =
        backward_descriptor(node, hint, any_image_desc(x), hint.dst_desc(), context.engine());
    const auto dy_desc = context.held_desc(node.inputs[0], nhwc_desc(y), chosen.diff_dst_desc());
    const auto dx_desc = context.held_desc(node.outputs[0], nhwc_desc(x), chosen.diff_src_desc());
    const auto descriptor = backward_descriptor(node, hint, dx_desc, dy_desc, context.engine());
    std::vector<std::pair<int, dnnl::memory>> arguments = {
        {DNNL_ARG_DIFF_DST, context.memory(node.inputs[0], dy_desc)},
        {DNNL_ARG_DIFF_SRC, context.memory(node.outputs[0], dx_desc)}};
    return std::make_unique<PrimitiveKernel>(descriptor, dnnl::pooling_v2_backward(descriptor),
                                             std::move(arguments), context);
  }

 private:
  static dnnl::algorithm algorithm(const Node& node) {
    return pool_algorithm(node, dnnl::algorithm::pooling_avg_exclude_padding);
  }

  // The forward primitive as it ran, recognised from dy's format (the forward output's).
  static dnnl::pooling_v2_forward::primitive_desc forward_hint(const Node& node,
                                                               const Layout& dy_layout,
                                                               const dnnl::engine& engine) {
    const Shape x = node.attributes.get_ints("input_shape", {});
    const Window w = pool_window(node, x);
    const dnnl::memory::desc x_desc =
        dy_layout.is_plain() ? nhwc_desc(x) : same_format(dy_layout.native(), x);
    return forward_descriptor(algorithm(node), w, x_desc, any_image_desc(pooled_shape(x, w)),
                              engine);
  }

  static dnnl::pooling_v2_backward::primitive_desc backward_descriptor(
      const Node& node, const dnnl::pooling_v2_forward::primitive_desc& hint,
      const dnnl::memory::desc& dx_desc, const dnnl::memory::desc& dy_desc,
      const dnnl::engine& engine) {
    const Shape x = node.attributes.get_ints("input_shape", {});
    const Window w = pool_window(node, x);
    return dnnl::pooling_v2_backward::primitive_desc(
        dnnl::pooling_v2_backward::desc(algorithm(node), dx_desc, dy_desc, window_strides(w),
                                        window_kernel(w), {0, 0}, padding_begin(w), padding_end(w)),
        kernel_attributes(), engine, hint);
  }
};

}  // namespace

void register_pooling(OpRegistry& registry) {
  for (const auto& [name, algorithm] :
       {std::pair{"max_pool2d", dnnl::algorithm::pooling_max},
        std::pair{"avg_pool2d", dnnl::algorithm::pooling_avg_exclude_padding}}) {
    registry.add(std::make_unique<Pool>(name, algorithm));
  }
  registry.add(std::make_unique<AvgPoolBackward>());
}

}  // namespace loom
