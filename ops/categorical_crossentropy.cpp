// categorical_crossentropy(p, y) from probabilities, as Keras computes it: each row of p is
// renormalized to sum to 1, clipped to [1e-7, 1 - 1e-7], and the loss is the batch mean of
// -Σ y·log(p). When p comes from a softmax, the fusion pass replaces both nodes with the
// stable softmax_crossentropy; this op serves predictions that are not a softmax.

#include "engine/exec/compile_context.hpp"
#include "engine/exec/loop_kernel.hpp"
#include "ops/crossentropy_common.hpp"

namespace loom {

namespace {

// Targets are one-hot rows (or any distribution over the classes).
struct DenseTargets {
  const float* y;
  int64_t classes;
  float operator()(int64_t b, int64_t c) const { return y[b * classes + c]; }
};

class CategoricalCrossentropy final : public Op {
 public:
  std::string_view name() const override { return "categorical_crossentropy"; }
  OpSignature signature() const override { return {.inputs = {"p", "y"}}; }

  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override {
    expect_crossentropy_operands(node, inputs, false);
    return {TensorType{DType::f32, {}}};
  }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const float* p = context.f32(node.inputs[0]);
    const float* y = context.f32(node.inputs[1]);
    float* loss = context.f32(node.outputs[0]);
    const int64_t batch = context.type(node.inputs[0]).shape[0];
    const int64_t classes = context.type(node.inputs[0]).shape[1];
    return make_loop_kernel([=] {
      *loss = crossentropy_from_probabilities(p, DenseTargets{y, classes}, batch, classes);
    });
  }

  std::vector<std::optional<ValueId>> gradient(GradientBuilder& builder,
                                               const GradientRequest& request) const override {
    const Node& node = request.node;
    if (request.wanted[1]) fail_node(node, "gradients for the targets are not supported");
    return {builder.emit(node, "categorical_crossentropy_backward",
                         {node.inputs[0], node.inputs[1], request.output_gradient()}),
            std::nullopt};
  }
};

// d loss / d p (see crossentropy_from_probabilities_backward).
class CategoricalCrossentropyBackward final : public Op {
 public:
  std::string_view name() const override { return "categorical_crossentropy_backward"; }
  OpSignature signature() const override {
    return {.inputs = {"p", "y", "dloss"}, .internal = true};
  }

  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override {
    expect_crossentropy_operands(node, inputs, false);
    expect_scalar(node, inputs, 2);
    return {inputs[0]};
  }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const float* p = context.f32(node.inputs[0]);
    const float* y = context.f32(node.inputs[1]);
    const float* dloss = context.f32(node.inputs[2]);
    float* dp = context.f32(node.outputs[0]);
    const int64_t batch = context.type(node.inputs[0]).shape[0];
    const int64_t classes = context.type(node.inputs[0]).shape[1];
    return make_loop_kernel([=] {
      crossentropy_from_probabilities_backward(p, DenseTargets{y, classes}, *dloss / float(batch),
                                               dp, batch, classes);
    });
  }
};

}  // namespace

void register_categorical_crossentropy(OpRegistry& registry) {
  registry.add(std::make_unique<CategoricalCrossentropy>());
  registry.add(std::make_unique<CategoricalCrossentropyBackward>());
}

}  // namespace loom
