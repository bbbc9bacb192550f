#include "ops/softmax_common.hpp"

#include <algorithm>
#include <cmath>

#include "engine/exec/compile_context.hpp"
#include "engine/exec/primitive_kernel.hpp"

namespace loom {

namespace {

int resolved_axis(const Node& node, int64_t rank) {
  return int(normalize_axis(node, node.attributes.get_int("axis", -1), rank));
}

dnnl::softmax_v2_forward::primitive_desc forward_descriptor(const SoftmaxKind& kind,
                                                            const dnnl::memory::desc& desc,
                                                            int axis, const dnnl::engine& engine) {
  return dnnl::softmax_v2_forward::primitive_desc(
      dnnl::softmax_v2_forward::desc(dnnl::prop_kind::forward_training, kind.algorithm, desc, desc,
                                     axis),
      kernel_attributes(), engine);
}

const std::vector<AttributeSpec> kAttributes = {
    {"axis", AttributeKind::integer, "the axis to normalize over (default -1, the last)"}};

class Softmax final : public Op {
 public:
  explicit Softmax(SoftmaxKind kind) : kind_(std::move(kind)) {}
  std::string_view name() const override { return kind_.name; }
  OpSignature signature() const override {
    return {.inputs = {"x"}, .attributes = kAttributes, .role = OpRole::activation};
  }

  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override {
    expect_dtype(node, inputs, 0, DType::f32);
    if (inputs[0].rank() < 1) fail_node(node, "expected x of rank 1 or more, got a scalar");
    resolved_axis(node, inputs[0].rank());
    return {inputs[0]};
  }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const auto& type = context.type(node.inputs[0]);
    const auto desc = plain_desc(type);
    const auto descriptor =
        forward_descriptor(kind_, desc, resolved_axis(node, type.rank()), context.engine());
    return std::make_unique<PrimitiveKernel>(
        descriptor, dnnl::softmax_v2_forward(descriptor),
        std::vector<std::pair<int, dnnl::memory>>{{DNNL_ARG_SRC, context.memory(node.inputs[0])},
                                                  {DNNL_ARG_DST, context.memory(node.outputs[0])}},
        context);
  }

  // Each line along the axis: exp(x - max) / Σ exp(x - max), or its log
  // x - max - log Σ exp(x - max), in double.
  bool has_reference() const override { return true; }
  void reference(const ReferenceCall& call) const override {
    const Shape& shape = call.input_shape(0);
    const auto axis = size_t(resolved_axis(call.node, int64_t(shape.size())));
    const int64_t outer = numel(Shape(shape.begin(), shape.begin() + std::ptrdiff_t(axis)));
    const int64_t extent = shape[axis];
    const int64_t inner = numel(Shape(shape.begin() + std::ptrdiff_t(axis) + 1, shape.end()));
    const std::span<const double> x = call.inputs[0];
    const std::span<double> y = call.outputs[0];
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t j = 0; j < inner; ++j) {
        const auto at = [&](int64_t k) { return size_t((o * extent + k) * inner + j); };
        double max = x[at(0)];
        for (int64_t k = 1; k < extent; ++k) max = std::max(max, x[at(k)]);
        double sum = 0;
        for (int64_t k = 0; k < extent; ++k) sum += std::exp(x[at(k)] - max);
        for (int64_t k = 0; k < extent; ++k) {
          y[at(k)] = kind_.log ? x[at(k)] - max - std::log(sum) : std::exp(x[at(k)] - max) / sum;
        }
      }
    }
  }

  std::vector<std::optional<ValueId>> gradient(GradientBuilder& builder,
                                               const GradientRequest& request) const override {
    const Node& node = request.node;
    return {builder.emit(node, kind_.name + "_backward",
                         {request.output_gradient(), node.outputs[0]},
                         {{"axis", node.attributes.get_int("axis", -1)}})};
  }

 private:
  SoftmaxKind kind_;
};

// softmax_backward(dy, y): dx = y ⊙ (dy - Σ_axis dy ⊙ y); log_softmax_backward(dy, y):
// dx = dy - exp(y) ⊙ Σ_axis dy.
class SoftmaxBackward final : public Op {
 public:
  explicit SoftmaxBackward(SoftmaxKind kind)
      : kind_(std::move(kind)), name_(kind_.name + "_backward") {}
  std::string_view name() const override { return name_; }
  OpSignature signature() const override {
    return {.inputs = {"dy", "y"}, .attributes = kAttributes, .internal = true};
  }

  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override {
    if (inputs[0] != inputs[1]) {
      fail_node(node, describe_input(node, inputs, 0) + " does not match " +
                          describe_input(node, inputs, 1));
    }
    resolved_axis(node, inputs[1].rank());
    return {inputs[1]};
  }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const ValueId dy = node.inputs[0], y = node.inputs[1], dx = node.outputs[0];
    const auto& type = context.type(y);
    const auto desc = plain_desc(type);
    const int axis = resolved_axis(node, type.rank());
    const dnnl::softmax_v2_backward::primitive_desc descriptor(
        dnnl::softmax_v2_backward::desc(kind_.algorithm, desc, desc, desc, axis),
        kernel_attributes(), context.engine(),
        forward_descriptor(kind_, desc, axis, context.engine()));
    return std::make_unique<PrimitiveKernel>(
        descriptor, dnnl::softmax_v2_backward(descriptor),
        std::vector<std::pair<int, dnnl::memory>>{{DNNL_ARG_DST, context.memory(y)},
                                                  {DNNL_ARG_DIFF_DST, context.memory(dy)},
                                                  {DNNL_ARG_DIFF_SRC, context.memory(dx)}},
        context);
  }

 private:
  SoftmaxKind kind_;
  std::string name_;
};

}  // namespace

void register_softmax_kind(OpRegistry& registry, const SoftmaxKind& kind) {
  registry.add(std::make_unique<Softmax>(kind));
  registry.add(std::make_unique<SoftmaxBackward>(kind));
}

}  // namespace loom
