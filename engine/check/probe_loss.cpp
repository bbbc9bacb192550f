#include "engine/check/probe_loss.hpp"

#include <mutex>

#include "engine/exec/compile_context.hpp"
#include "engine/exec/loop_kernel.hpp"
#include "engine/graph/op.hpp"

namespace loom {

namespace {

class ProbeLoss final : public Op {
 public:
  std::string_view name() const override { return "gradcheck_probe_loss"; }
  OpSignature signature() const override { return {.inputs = {"y", "r"}, .internal = true}; }
  std::vector<TensorType> infer(const Node&, std::span<const TensorType>) const override {
    return {TensorType{DType::f32, {}}};
  }
  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const float* y = context.f32(node.inputs[0]);
    const float* r = context.f32(node.inputs[1]);
    float* loss = context.f32(node.outputs[0]);
    const int64_t count = context.type(node.inputs[0]).numel();
    return make_loop_kernel([=] {
      double total = 0;
      for (int64_t i = 0; i < count; ++i) total += double(y[i]) * double(r[i]);
      *loss = static_cast<float>(total);
    });
  }
  bool has_reference() const override { return true; }
  void reference(const ReferenceCall& call) const override {
    double total = 0;
    for (size_t i = 0; i < call.inputs[0].size(); ++i)
      total += call.inputs[0][i] * call.inputs[1][i];
    call.outputs[0][0] = total;
  }
  std::vector<std::optional<ValueId>> gradient(GradientBuilder& builder,
                                               const GradientRequest& request) const override {
    return {builder.emit(request.node, "gradcheck_probe_loss_backward",
                         {request.node.inputs[1], request.output_gradient()}),
            std::nullopt};
  }
};

class ProbeLossBackward final : public Op {
 public:
  std::string_view name() const override { return "gradcheck_probe_loss_backward"; }
  OpSignature signature() const override { return {.inputs = {"r", "dloss"}, .internal = true}; }
  std::vector<TensorType> infer(const Node&, std::span<const TensorType> inputs) const override {
    return {inputs[0]};
  }
  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const float* r = context.f32(node.inputs[0]);
    const float* dloss = context.f32(node.inputs[1]);
    float* dy = context.f32(node.outputs[0]);
    const int64_t count = context.type(node.inputs[0]).numel();
    return make_loop_kernel([=] {
      for (int64_t i = 0; i < count; ++i) dy[i] = r[i] * *dloss;
    });
  }
};

}  // namespace

void register_probe_ops() {
  static std::once_flag once;
  std::call_once(once, [] {
    OpRegistry::global().add(std::make_unique<ProbeLoss>());
    OpRegistry::global().add(std::make_unique<ProbeLossBackward>());
  });
}

}  // namespace loom
