// max_pool2d and avg_pool2d: Keras's MaxPooling2D and AveragePooling2D on channels-last images
// [N, H, W, C]; attributes pool_size (default [2, 2]), strides (default: the pool size) and
// padding (valid / same; an average excludes the padding, as Keras's does). oneDNN's
// pooling_v2 runs on nhwc directly.
//
// Max pooling's backward routes each gradient to the element that won its window, which
// oneDNN records during the forward pass in a workspace: max_pool2d has it as a second output
// (an f32 tensor sized to hold the workspace's bytes) and max_pool2d_backward reads it.

#include "engine/exec/compile_context.hpp"
#include "engine/exec/primitive_kernel.hpp"
#include "ops/window_common.hpp"

namespace loom {

namespace {

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

dnnl::pooling_v2_forward::primitive_desc forward_descriptor(dnnl::algorithm algorithm,
                                                            const Window& w, const Shape& x,
                                                            const dnnl::engine& engine) {
  return dnnl::pooling_v2_forward::primitive_desc(
      dnnl::pooling_v2_forward::desc(dnnl::prop_kind::forward_training, algorithm, nhwc_desc(x),
                                     nhwc_desc(pooled_shape(x, w)), window_strides(w),
                                     window_kernel(w), {0, 0}, padding_begin(w), padding_end(w)),
      kernel_attributes(), engine);
}

// The workspace's size in f32 elements, asked of oneDNN when the node's shape is inferred.
int64_t workspace_elements(const Window& w, const Shape& x) {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  const size_t bytes =
      forward_descriptor(dnnl::algorithm::pooling_max, w, x, engine).workspace_desc().get_size();
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
    const Window w = pool_window(node, inputs[0].shape);
    std::vector<TensorType> outputs = {TensorType{DType::f32, pooled_shape(inputs[0].shape, w)}};
    if (is_max()) outputs.push_back({DType::f32, {workspace_elements(w, inputs[0].shape)}});
    return outputs;
  }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const Shape& x = context.type(node.inputs[0]).shape;
    const Window w = pool_window(node, x);
    const auto descriptor = forward_descriptor(algorithm_, w, x, context.engine());
    std::vector<std::pair<int, dnnl::memory>> arguments = {
        {DNNL_ARG_SRC, context.memory(node.inputs[0], nhwc_desc(x))},
        {DNNL_ARG_DST, context.memory(node.outputs[0], nhwc_desc(pooled_shape(x, w)))}};
    if (is_max()) {
      arguments.emplace_back(DNNL_ARG_WORKSPACE,
                             context.memory(node.outputs[1], descriptor.workspace_desc()));
    }
    return std::make_unique<PrimitiveKernel>(descriptor, dnnl::pooling_v2_forward(descriptor),
                                             std::move(arguments), context);
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
  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const Shape x = node.attributes.get_ints("input_shape", {});
    const Window w = pool_window(node, x);
    const auto hint = forward_descriptor(algorithm_, w, x, context.engine());
    const auto dx_desc = nhwc_desc(x), dy_desc = nhwc_desc(pooled_shape(x, w));
    const dnnl::pooling_v2_backward::primitive_desc descriptor(
        dnnl::pooling_v2_backward::desc(algorithm_, dx_desc, dy_desc, window_strides(w),
                                        window_kernel(w), {0, 0}, padding_begin(w), padding_end(w)),
        kernel_attributes(), context.engine(), hint);
    std::vector<std::pair<int, dnnl::memory>> arguments = {
        {DNNL_ARG_DIFF_DST, context.memory(node.inputs[0], dy_desc)},
        {DNNL_ARG_DIFF_SRC, context.memory(node.outputs[0], dx_desc)}};
    if (algorithm_ == dnnl::algorithm::pooling_max) {
      arguments.emplace_back(DNNL_ARG_WORKSPACE,
                             context.memory(node.inputs[1], hint.workspace_desc()));
    }
    return std::make_unique<PrimitiveKernel>(descriptor, dnnl::pooling_v2_backward(descriptor),
                                             std::move(arguments), context);
  }

 private:
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
