// softmax_crossentropy(logits, y) -> (probabilities, loss): softmax and crossentropy as one
// node, which the fusion pass puts on the loss path in place of a softmax followed by a
// (sparse_)categorical_crossentropy. Computed from the logits with log-sum-exp, it never
// takes the log of a rounded-off probability, and its gradient is the stable
// (p - y) · dloss / batch. Targets are one-hot f32[B, C] or class indices i32[B].

#include <algorithm>
#include <cmath>

#include "engine/exec/compile_context.hpp"
#include "engine/exec/loop_kernel.hpp"
#include "ops/crossentropy_common.hpp"

namespace loom {

namespace {

bool has_sparse_targets(std::span<const TensorType> inputs) {
  return inputs[1].dtype == DType::i32;
}

struct Rows {
  int64_t batch;
  int64_t classes;
};

Rows rows_of(const CompileContext& context, ValueId logits) {
  const auto& shape = context.type(logits).shape;
  return {shape[0], shape[1]};
}

// Writes the softmax of one row and returns its log-sum-exp.
float softmax_row(const float* x, float* p, int64_t classes) {
  float max = x[0];
  for (int64_t c = 1; c < classes; ++c) max = std::max(max, x[c]);
  float sum = 0;
  for (int64_t c = 0; c < classes; ++c) {
    p[c] = std::exp(x[c] - max);
    sum += p[c];
  }
  const float inverse = 1.f / sum;
  for (int64_t c = 0; c < classes; ++c) p[c] *= inverse;
  return max + std::log(sum);
}

class SoftmaxCrossentropy final : public Op {
 public:
  std::string_view name() const override { return "softmax_crossentropy"; }
  OpSignature signature() const override { return {.inputs = {"logits", "y"}}; }

  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override {
    expect_crossentropy_operands(node, inputs, has_sparse_targets(inputs));
    return {inputs[0], TensorType{DType::f32, {}}};
  }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const float* x = context.f32(node.inputs[0]);
    const void* y = context.address(node.inputs[1]);
    float* p = context.f32(node.outputs[0]);
    float* loss = context.f32(node.outputs[1]);
    const Rows rows = rows_of(context, node.inputs[0]);
    const bool sparse = context.type(node.inputs[1]).dtype == DType::i32;
    return make_loop_kernel([=] {
      double total = 0;
      for (int64_t b = 0; b < rows.batch; ++b) {
        const float* x_row = x + b * rows.classes;
        const float log_sum = softmax_row(x_row, p + b * rows.classes, rows.classes);
        if (sparse) {
          total += log_sum - x_row[static_cast<const int32_t*>(y)[b]];
        } else {
          const float* y_row = static_cast<const float*>(y) + b * rows.classes;
          for (int64_t c = 0; c < rows.classes; ++c) total += y_row[c] * (log_sum - x_row[c]);
        }
      }
      *loss = static_cast<float>(total / double(rows.batch));
    });
  }

  // Per row, with lse = log Σ_c exp(x_c): p_c = exp(x_c - lse), and the loss is the batch mean
  // of Σ_c y_c·(lse - x_c) (of lse - x_label for class indices, which arrive as whole numbers).
  bool has_reference() const override { return true; }
  void reference(const ReferenceCall& call) const override {
    const int64_t batch = call.input_shape(0)[0], classes = call.input_shape(0)[1];
    const bool sparse = call.input_types[1].dtype == DType::i32;
    const std::span<const double> x = call.inputs[0], y = call.inputs[1];
    double total = 0;
    for (int64_t b = 0; b < batch; ++b) {
      const auto at = [&](int64_t c) { return size_t(b * classes + c); };
      double max = x[at(0)];
      for (int64_t c = 1; c < classes; ++c) max = std::max(max, x[at(c)]);
      double sum = 0;
      for (int64_t c = 0; c < classes; ++c) sum += std::exp(x[at(c)] - max);
      const double lse = max + std::log(sum);
      for (int64_t c = 0; c < classes; ++c) call.outputs[0][at(c)] = std::exp(x[at(c)] - lse);
      if (sparse) {
        // The data loader refuses such labels; a reference must not read outside the row.
        const int64_t label = std::llround(y[size_t(b)]);
        if (label < 0 || label >= classes) {
          throw RuntimeError("node '" + call.node.name + "': label " + std::to_string(label) +
                             " is outside [0, " + std::to_string(classes) + ")");
        }
        total += lse - x[at(label)];
      } else {
        for (int64_t c = 0; c < classes; ++c) total += y[at(c)] * (lse - x[at(c)]);
      }
    }
    call.outputs[1][0] = total / double(batch);
  }

  std::vector<std::optional<ValueId>> gradient(GradientBuilder& builder,
                                               const GradientRequest& request) const override {
    const Node& node = request.node;
    if (request.wanted[1]) fail_node(node, "gradients for the targets are not supported");
    const ValueId probabilities = node.outputs[0];
    std::optional<ValueId> d_logits;
    if (request.output_gradients[1]) {
      d_logits = builder.emit(node, "softmax_crossentropy_backward",
                              {probabilities, node.inputs[1], *request.output_gradients[1]});
    }
    // The probabilities may feed something else on the loss path too.
    if (request.output_gradients[0]) {
      const ValueId through_softmax =
          builder.emit(node, "softmax_backward", {*request.output_gradients[0], probabilities});
      d_logits =
          d_logits ? builder.emit(node, "add", {*d_logits, through_softmax}) : through_softmax;
    }
    return {d_logits, std::nullopt};
  }
};

// softmax_crossentropy_backward(p, y, dloss): d loss / d logits = (p·Σy - y) · dloss / batch,
// which is the familiar (p - y) · dloss / batch when each row of targets sums to 1.
class SoftmaxCrossentropyBackward final : public Op {
 public:
  std::string_view name() const override { return "softmax_crossentropy_backward"; }
  OpSignature signature() const override {
    return {.inputs = {"p", "y", "dloss"}, .internal = true};
  }

  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override {
    expect_crossentropy_operands(node, inputs, has_sparse_targets(inputs));
    expect_scalar(node, inputs, 2);
    return {inputs[0]};
  }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const float* p = context.f32(node.inputs[0]);
    const void* y = context.address(node.inputs[1]);
    const float* dloss = context.f32(node.inputs[2]);
    float* dx = context.f32(node.outputs[0]);
    const Rows rows = rows_of(context, node.inputs[0]);
    const bool sparse = context.type(node.inputs[1]).dtype == DType::i32;
    const int64_t count = rows.batch * rows.classes;
    return make_loop_kernel([=] {
      const float scale = *dloss / float(rows.batch);
      if (sparse) {
        for (int64_t i = 0; i < count; ++i) dx[i] = p[i] * scale;
        const auto* labels = static_cast<const int32_t*>(y);
        for (int64_t b = 0; b < rows.batch; ++b) dx[b * rows.classes + labels[b]] -= scale;
      } else {
        // Σ_c y_c·(lse - x_c) differentiates to p·Σ_c y_c - y: (p - y) for rows of targets
        // that sum to 1 (one-hot or any distribution), exact for other rows too.
        const auto* targets = static_cast<const float*>(y);
        for (int64_t b = 0; b < rows.batch; ++b) {
          const float* y_row = targets + b * rows.classes;
          float total = 0;
          for (int64_t c = 0; c < rows.classes; ++c) total += y_row[c];
          for (int64_t c = 0; c < rows.classes; ++c) {
            const int64_t i = b * rows.classes + c;
            dx[i] = (p[i] * total - y_row[c]) * scale;
          }
        }
      }
    });
  }
};

}  // namespace

void register_softmax_crossentropy(OpRegistry& registry) {
  registry.add(std::make_unique<SoftmaxCrossentropy>());
  registry.add(std::make_unique<SoftmaxCrossentropyBackward>());
}

}  // namespace loom
