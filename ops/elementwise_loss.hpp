#pragma once
// What the regression-style losses share (mean_squared_error, mean_absolute_error, huber,
// binary_crossentropy): loss(p, y) = mean over every element of f(p, y), Keras's mean over the
// last axis then over the batch (the same for equal rows), and its backward op
// (p, y, dloss) -> dp = f'(p, y)·dloss / count. An op file supplies the formula:
//
//   struct Formula {
//     static constexpr std::string_view kName;
//     static std::vector<AttributeSpec> attributes();
//     explicit Formula(const Attributes&);     // reads and checks its parameters
//     float value(float p, float y) const;     // f
//     float derivative(float p, float y) const;  // ∂f/∂p
//     double reference(double p, double y) const;  // f in double (Op::reference)
//   };

#include "engine/exec/compile_context.hpp"
#include "engine/exec/loop_kernel.hpp"
#include "engine/graph/op.hpp"

namespace loom {

inline void expect_matching_targets(const Node& node, std::span<const TensorType> inputs) {
  expect_dtype(node, inputs, 0, DType::f32);
  expect_dtype(node, inputs, 1, DType::f32);
  if (inputs[0] != inputs[1]) {
    fail_node(node, "targets " + to_string(inputs[1]) + " do not match predictions " +
                        to_string(inputs[0]));
  }
}

template <typename Formula>
class ElementwiseLoss final : public Op {
 public:
  std::string_view name() const override { return Formula::kName; }
  OpSignature signature() const override {
    return {.inputs = {"p", "y"}, .attributes = Formula::attributes(), .role = OpRole::loss};
  }
  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override {
    expect_matching_targets(node, inputs);
    Formula formula(node.attributes);  // checks the parameters
    return {TensorType{DType::f32, {}}};
  }
  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const float* p = context.f32(node.inputs[0]);
    const float* y = context.f32(node.inputs[1]);
    float* loss = context.f32(node.outputs[0]);
    const int64_t count = context.type(node.inputs[0]).numel();
    const Formula formula(node.attributes);
    return make_loop_kernel([=] {
      double total = 0;
      for (int64_t i = 0; i < count; ++i) total += formula.value(p[i], y[i]);
      *loss = float(total / double(count));
    });
  }
  bool has_reference() const override { return true; }
  void reference(const ReferenceCall& call) const override {
    const Formula formula(call.node.attributes);
    const std::span<const double> p = call.inputs[0], y = call.inputs[1];
    double total = 0;
    for (size_t i = 0; i < p.size(); ++i) total += formula.reference(p[i], y[i]);
    call.outputs[0][0] = total / double(p.size());
  }
  std::vector<std::optional<ValueId>> gradient(GradientBuilder& builder,
                                               const GradientRequest& request) const override {
    const Node& node = request.node;
    if (request.wanted[1]) fail_node(node, "gradients for the targets are not supported");
    return {
        builder.emit(node, std::string(Formula::kName) + "_backward",
                     {node.inputs[0], node.inputs[1], request.output_gradient()}, node.attributes),
        std::nullopt};
  }
};

template <typename Formula>
class ElementwiseLossBackward final : public Op {
 public:
  ElementwiseLossBackward() : name_(std::string(Formula::kName) + "_backward") {}
  std::string_view name() const override { return name_; }
  OpSignature signature() const override {
    return {.inputs = {"p", "y", "dloss"}, .attributes = Formula::attributes(), .internal = true};
  }
  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override {
    expect_matching_targets(node, inputs);
    return {inputs[0]};
  }
  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const float* p = context.f32(node.inputs[0]);
    const float* y = context.f32(node.inputs[1]);
    const float* dloss = context.f32(node.inputs[2]);
    float* dp = context.f32(node.outputs[0]);
    const int64_t count = context.type(node.inputs[0]).numel();
    const Formula formula(node.attributes);
    return make_loop_kernel([=] {
      const float scale = *dloss / float(count);
      for (int64_t i = 0; i < count; ++i) dp[i] = formula.derivative(p[i], y[i]) * scale;
    });
  }

 private:
  std::string name_;
};

template <typename Formula>
void register_elementwise_loss(OpRegistry& registry) {
  registry.add(std::make_unique<ElementwiseLoss<Formula>>());
  registry.add(std::make_unique<ElementwiseLossBackward<Formula>>());
}

}  // namespace loom
