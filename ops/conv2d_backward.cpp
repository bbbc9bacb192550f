// conv2d's backward ops: conv2d_backward_data (dx from dy and the kernel) and
// conv2d_backward_weights (dkernel and dbias from x and dy, one primitive computing both),
// each built on the forward convolution's primitive as its hint (conv2d_common.hpp).

#include "ops/conv2d_common.hpp"

namespace loom {

namespace {

using namespace conv;

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
  int64_t flops(const Node& node, const Graph& graph) const override {
    return convolution_flops(graph.value(node.inputs[0]).type.shape,
                             graph.value(node.inputs[1]).type.shape);
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
    return convolution_flops(graph.value(node.inputs[1]).type.shape,
                             graph.value(node.outputs[0]).type.shape);
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
    const auto hint = forward_primitive(g, d, engine);
    return winograd_or_direct(g, [&](dnnl::algorithm algorithm, bool allow_empty) {
      return dnnl::convolution_backward_weights::primitive_desc(
          dnnl::convolution_backward_weights::desc(algorithm, d.x, d.kernel, bias_desc(g), d.y,
                                                   window_strides(w), window_dilation(w),
                                                   padding_begin(w), padding_end(w)),
          kernel_attributes(), engine, hint, allow_empty);
    });
  }
};

}  // namespace

void register_conv2d_backward(OpRegistry& registry) {
  registry.add(std::make_unique<Conv2DBackwardData>());
  registry.add(std::make_unique<Conv2DBackwardWeights>());
}

}  // namespace loom
