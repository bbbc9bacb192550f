// A plugin as a user would write one: an optimizer (sign_sgd: w -= lr·sign(g)) and an op
// (test_cube: y = x³, dx = 3x²·dy) with its double-precision reference forward and its
// backward op, registered through LOOM_PLUGIN; and test_square (y = x²), which has no
// reference, so it can run but not be gradient-checked.

#include "engine/core/parallel.hpp"
#include "engine/exec/compile_context.hpp"
#include "engine/exec/loop_kernel.hpp"
#include "engine/plugin/plugin.hpp"

namespace {

using namespace loom;

class SignSgd final : public Optimizer {
 public:
  std::string_view name() const override { return "sign_sgd"; }

 protected:
  std::vector<std::string> slot_names() const override { return {}; }
  void update(const UpdateStep& s) override {
    float* w = s.weights;
    const float* g = s.gradient;
    const float lr = s.learning_rate, decay = s.decay;
    for_each_element(s.size, [=](int64_t i) {
      w[i] -= decay * w[i] + lr * (float(g[i] > 0) - float(g[i] < 0));
    });
  }
};

class Cube final : public Op {
 public:
  std::string_view name() const override { return "test_cube"; }
  OpSignature signature() const override { return {.inputs = {"x"}}; }
  std::vector<TensorType> infer(const Node&, std::span<const TensorType> inputs) const override {
    return {inputs[0]};
  }
  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const float* x = context.f32(node.inputs[0]);
    float* y = context.f32(node.outputs[0]);
    const int64_t n = context.type(node.inputs[0]).numel();
    return make_loop_kernel([=] {
      for (int64_t i = 0; i < n; ++i) y[i] = x[i] * x[i] * x[i];
    });
  }
  bool has_reference() const override { return true; }
  void reference(const ReferenceCall& call) const override {
    for (size_t i = 0; i < call.inputs[0].size(); ++i) {
      const double x = call.inputs[0][i];
      call.outputs[0][i] = x * x * x;
    }
  }
  std::vector<std::optional<ValueId>> gradient(GradientBuilder& builder,
                                               const GradientRequest& request) const override {
    return {builder.emit(request.node, "test_cube_backward",
                         {request.output_gradient(), request.node.inputs[0]})};
  }
};

class CubeBackward final : public Op {
 public:
  std::string_view name() const override { return "test_cube_backward"; }
  OpSignature signature() const override { return {.inputs = {"dy", "x"}, .internal = true}; }
  std::vector<TensorType> infer(const Node&, std::span<const TensorType> inputs) const override {
    return {inputs[1]};
  }
  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const float* dy = context.f32(node.inputs[0]);
    const float* x = context.f32(node.inputs[1]);
    float* dx = context.f32(node.outputs[0]);
    const int64_t n = context.type(node.inputs[1]).numel();
    return make_loop_kernel([=] {
      for (int64_t i = 0; i < n; ++i) dx[i] = 3 * x[i] * x[i] * dy[i];
    });
  }
};

class Square final : public Op {
 public:
  std::string_view name() const override { return "test_square"; }
  OpSignature signature() const override { return {.inputs = {"x"}}; }
  std::vector<TensorType> infer(const Node&, std::span<const TensorType> inputs) const override {
    return {inputs[0]};
  }
  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const float* x = context.f32(node.inputs[0]);
    float* y = context.f32(node.outputs[0]);
    const int64_t n = context.type(node.inputs[0]).numel();
    return make_loop_kernel([=] {
      for (int64_t i = 0; i < n; ++i) y[i] = x[i] * x[i];
    });
  }
  std::vector<std::optional<ValueId>> gradient(GradientBuilder& builder,
                                               const GradientRequest& request) const override {
    return {builder.emit(
        request.node, "scale",
        {builder.emit(request.node, "mul", {request.output_gradient(), request.node.inputs[0]})},
        {{"factor", 2.0}})};
  }
};

}  // namespace

LOOM_PLUGIN(registrar) {
  registrar.optimizers.add(
      "sign_sgd", {.create = [](const Attributes&) { return std::make_unique<SignSgd>(); }});
  registrar.ops.add(std::make_unique<Cube>());
  registrar.ops.add(std::make_unique<CubeBackward>());
  registrar.ops.add(std::make_unique<Square>());
}
