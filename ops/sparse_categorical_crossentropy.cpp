// sparse_categorical_crossentropy(p, labels): categorical_crossentropy with the targets given
// as class indices (i32[B]) instead of one-hot rows, with Keras's clipping and mean.
// On the loss path after a softmax the fusion pass replaces it with softmax_crossentropy.

#include "engine/exec/compile_context.hpp"
#include "engine/exec/loop_kernel.hpp"
#include "ops/crossentropy_common.hpp"

namespace loom {

namespace {

// Targets are class indices: weight 1 for the labelled class, 0 elsewhere.
struct SparseTargets {
  const int32_t* labels;
  float operator()(int64_t b, int64_t c) const { return labels[b] == c ? 1.f : 0.f; }
};

class SparseCategoricalCrossentropy final : public Op {
 public:
  std::string_view name() const override { return "sparse_categorical_crossentropy"; }
  OpSignature signature() const override { return {.inputs = {"p", "y"}}; }

  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override {
    expect_crossentropy_operands(node, inputs, true);
    return {TensorType{DType::f32, {}}};
  }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const float* p = context.f32(node.inputs[0]);
    const int32_t* labels = context.i32(node.inputs[1]);
    float* loss = context.f32(node.outputs[0]);
    const int64_t batch = context.type(node.inputs[0]).shape[0];
    const int64_t classes = context.type(node.inputs[0]).shape[1];
    return make_loop_kernel(
        [=] { *loss = crossentropy_from_probabilities(p, SparseTargets{labels}, batch, classes); });
  }

  std::vector<std::optional<ValueId>> gradient(GradientBuilder& builder,
                                               const GradientRequest& request) const override {
    const Node& node = request.node;
    if (request.wanted[1]) fail_node(node, "gradients for the targets are not supported");
    return {builder.emit(node, "sparse_categorical_crossentropy_backward",
                         {node.inputs[0], node.inputs[1], request.output_gradient()}),
            std::nullopt};
  }
};

// d loss / d p (see crossentropy_from_probabilities_backward).
class SparseCategoricalCrossentropyBackward final : public Op {
 public:
  std::string_view name() const override { return "sparse_categorical_crossentropy_backward"; }
  OpSignature signature() const override {
    return {.inputs = {"p", "y", "dloss"}, .internal = true};
  }

  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override {
    expect_crossentropy_operands(node, inputs, true);
    expect_scalar(node, inputs, 2);
    return {inputs[0]};
  }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const float* p = context.f32(node.inputs[0]);
    const int32_t* labels = context.i32(node.inputs[1]);
    const float* dloss = context.f32(node.inputs[2]);
    float* dp = context.f32(node.outputs[0]);
    const int64_t batch = context.type(node.inputs[0]).shape[0];
    const int64_t classes = context.type(node.inputs[0]).shape[1];
    return make_loop_kernel([=] {
      crossentropy_from_probabilities_backward(p, SparseTargets{labels}, *dloss / float(batch), dp,
                                               batch, classes);
    });
  }
};

}  // namespace

void register_sparse_categorical_crossentropy(OpRegistry& registry) {
  registry.add(std::make_unique<SparseCategoricalCrossentropy>());
  registry.add(std::make_unique<SparseCategoricalCrossentropyBackward>());
}

}  // namespace loom
