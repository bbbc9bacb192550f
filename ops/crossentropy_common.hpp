#pragma once
// What the crossentropy ops share: the shape rule (predictions [B, C] with one-hot targets
// [B, C] (f32) or class indices [B] (i32); the loss is the batch mean, a scalar) and, for the
// ops that start from probabilities, Keras's clipped formula and its gradient. A target is
// read through a callable (row, class) -> weight, so dense and sparse targets share the loops.

#include <algorithm>
#include <cmath>

#include "engine/exec/compile_context.hpp"
#include "engine/exec/loop_kernel.hpp"
#include "engine/graph/op.hpp"

namespace loom {

inline void expect_crossentropy_operands(const Node& node, std::span<const TensorType> inputs,
                                         bool sparse) {
  expect_rank(node, inputs, 0, 2);
  expect_dtype(node, inputs, 0, DType::f32);
  const int64_t batch = inputs[0].shape[0];
  if (sparse) {
    expect_dtype(node, inputs, 1, DType::i32);
    if (inputs[1].shape != Shape{batch}) {
      fail_node(node, "expected class indices i32[" + std::to_string(batch) + "] for " +
                          describe_input(node, inputs, 0) + ", got " + to_string(inputs[1]));
    }
  } else if (inputs[1] != inputs[0]) {
    fail_node(node, "targets " + to_string(inputs[1]) + " do not match " +
                        describe_input(node, inputs, 0) + " (one-hot targets have its shape)");
  }
}

inline void expect_scalar(const Node& node, std::span<const TensorType> inputs, size_t index) {
  if (inputs[index].numel() != 1) {
    fail_node(node, "expected a scalar " + describe_input(node, inputs, index));
  }
}

inline constexpr float kProbabilityEpsilon = 1e-7f;  // Keras's backend epsilon

// Keras: rows renormalized to sum 1, clipped to [eps, 1 - eps], loss = mean_b -Σ y·log(q).
template <typename Target>
float crossentropy_from_probabilities(const float* p, const Target& target, int64_t batch,
                                      int64_t classes) {
  double total = 0;
  for (int64_t b = 0; b < batch; ++b) {
    const float* row = p + b * classes;
    float sum = 0;
    for (int64_t c = 0; c < classes; ++c) sum += row[c];
    for (int64_t c = 0; c < classes; ++c) {
      const float weight = target(b, c);
      if (weight == 0.f) continue;
      const float q = std::clamp(row[c] / sum, kProbabilityEpsilon, 1 - kProbabilityEpsilon);
      total -= weight * std::log(q);
    }
  }
  return static_cast<float>(total / double(batch));
}

// The same formula in double precision (Op::reference), the targets read from the call as
// `weight(row, class)`; the clipping bounds are the kernel's float constants.
template <typename Weight>
double crossentropy_reference(std::span<const double> p, const Weight& weight, int64_t batch,
                              int64_t classes) {
  const double low = kProbabilityEpsilon, high = 1 - low;
  double total = 0;
  for (int64_t b = 0; b < batch; ++b) {
    const std::span<const double> row = p.subspan(size_t(b * classes), size_t(classes));
    double sum = 0;
    for (const double value : row) sum += value;
    for (int64_t c = 0; c < classes; ++c) {
      const double target = weight(b, c);
      if (target == 0) continue;  // as the kernel: a class with no weight is never read
      total -= target * std::log(std::clamp(row[size_t(c)] / sum, low, high));
    }
  }
  return total / double(batch);
}

// With s = Σp, q = p/s and g_j = -y_j/q_j where q_j is not clipped (0 where it is):
// dp_k = (g_k - Σ_j g_j·q_j) / s, times `scale` (dloss / batch).
template <typename Target>
void crossentropy_from_probabilities_backward(const float* p, const Target& target, float scale,
                                              float* dp, int64_t batch, int64_t classes) {
  for (int64_t b = 0; b < batch; ++b) {
    const float* row = p + b * classes;
    float* d_row = dp + b * classes;
    float sum = 0;
    for (int64_t c = 0; c < classes; ++c) sum += row[c];
    float weighted = 0;  // Σ_j g_j·q_j
    for (int64_t c = 0; c < classes; ++c) {
      const float q = row[c] / sum;
      const bool clipped = q < kProbabilityEpsilon || q > 1 - kProbabilityEpsilon;
      const float g = clipped ? 0.f : -target(b, c) / q;
      d_row[c] = g;
      weighted += g * q;
    }
    for (int64_t c = 0; c < classes; ++c) d_row[c] = (d_row[c] - weighted) / sum * scale;
  }
}

// The two ops of a crossentropy computed from probabilities: the loss, and its backward
// (p, y, dloss) -> dp. `Targets` names the op and reads one kind of target:
//   static constexpr std::string_view kName; static constexpr bool kSparse;
//   Targets(const void* data, int64_t classes); float operator()(row, class) const;
//   static double reference(std::span<const double> y, int64_t classes, int64_t row,
//                           int64_t class_index);  // the same weight, read from doubles
template <typename Targets>
class ProbabilityCrossentropy final : public Op {
 public:
  std::string_view name() const override { return Targets::kName; }
  OpSignature signature() const override { return {.inputs = {"p", "y"}, .role = OpRole::loss}; }

  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override {
    expect_crossentropy_operands(node, inputs, Targets::kSparse);
    return {TensorType{DType::f32, {}}};
  }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const float* p = context.f32(node.inputs[0]);
    const int64_t batch = context.type(node.inputs[0]).shape[0];
    const int64_t classes = context.type(node.inputs[0]).shape[1];
    const Targets targets(context.address(node.inputs[1]), classes);
    float* loss = context.f32(node.outputs[0]);
    return make_loop_kernel(
        [=] { *loss = crossentropy_from_probabilities(p, targets, batch, classes); });
  }

  bool has_reference() const override { return true; }
  void reference(const ReferenceCall& call) const override {
    const int64_t batch = call.input_shape(0)[0], classes = call.input_shape(0)[1];
    const auto weight = [&](int64_t b, int64_t c) {
      return Targets::reference(call.inputs[1], classes, b, c);
    };
    call.outputs[0][0] = crossentropy_reference(call.inputs[0], weight, batch, classes);
  }

  std::vector<std::optional<ValueId>> gradient(GradientBuilder& builder,
                                               const GradientRequest& request) const override {
    const Node& node = request.node;
    if (request.wanted[1]) fail_node(node, "gradients for the targets are not supported");
    return {builder.emit(node, std::string(Targets::kName) + "_backward",
                         {node.inputs[0], node.inputs[1], request.output_gradient()}),
            std::nullopt};
  }
};

template <typename Targets>
class ProbabilityCrossentropyBackward final : public Op {
 public:
  ProbabilityCrossentropyBackward() : name_(std::string(Targets::kName) + "_backward") {}
  std::string_view name() const override { return name_; }
  OpSignature signature() const override {
    return {.inputs = {"p", "y", "dloss"}, .internal = true};
  }

  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override {
    expect_crossentropy_operands(node, inputs, Targets::kSparse);
    expect_scalar(node, inputs, 2);
    return {inputs[0]};
  }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const float* p = context.f32(node.inputs[0]);
    const int64_t batch = context.type(node.inputs[0]).shape[0];
    const int64_t classes = context.type(node.inputs[0]).shape[1];
    const Targets targets(context.address(node.inputs[1]), classes);
    const float* dloss = context.f32(node.inputs[2]);
    float* dp = context.f32(node.outputs[0]);
    return make_loop_kernel([=] {
      crossentropy_from_probabilities_backward(p, targets, *dloss / float(batch), dp, batch,
                                               classes);
    });
  }

 private:
  std::string name_;
};

template <typename Targets>
void register_probability_crossentropy(OpRegistry& registry) {
  registry.add(std::make_unique<ProbabilityCrossentropy<Targets>>());
  registry.add(std::make_unique<ProbabilityCrossentropyBackward<Targets>>());
}

}  // namespace loom
