// dropout(x) with attributes rate and seed -> (y, mask): in a training graph each element is
// kept with probability 1 - rate and scaled by 1/(1 - rate), so the expected value is
// unchanged (Keras's Dropout); in any other graph it is the identity. The mask (0 or
// 1/(1 - rate) per element) is an output so that the gradient is simply dx = dy ⊙ mask.
//
// The random bits come from a counter-based generator: element i of training step s hashes
// (seed, s, i) with splitmix64. A step's mask is then the same whatever the thread count, the
// loop vectorizes, and a run resumed from a checkpoint draws the same masks (s is the
// trainer's step counter, Runtime::step).

#include <algorithm>

#include "engine/core/parallel.hpp"
#include "engine/exec/compile_context.hpp"
#include "engine/exec/loop_kernel.hpp"
#include "engine/graph/op.hpp"

namespace loom {

namespace {

inline uint64_t splitmix64(uint64_t value) {
  value += 0x9e3779b97f4a7c15ULL;
  value = (value ^ (value >> 30)) * 0xbf58476d1ce4e5b9ULL;
  value = (value ^ (value >> 27)) * 0x94d049bb133111ebULL;
  return value ^ (value >> 31);
}

double rate_of(const Node& node) {
  return node.attributes.get_real("rate", 0.5);
}

// The mask, shared by the kernel and the reference so that they drop the same elements:
// element i of a step is kept when the top 24 bits of its hash fall below (1 - rate)·2^24.
uint64_t seed_of(const Node& node) {
  return uint64_t(node.attributes.get_int("seed", 0));
}

uint64_t step_stream(uint64_t seed, int64_t step) {
  return splitmix64(seed ^ splitmix64(uint64_t(step)));
}

uint64_t keep_threshold(double rate) {
  return uint64_t((1.0 - rate) * double(uint64_t{1} << 24));
}

inline bool keeps(uint64_t stream, uint64_t threshold, int64_t i) {
  return (splitmix64(stream + uint64_t(i)) >> 40) < threshold;
}

class Dropout final : public Op {
 public:
  std::string_view name() const override { return "dropout"; }
  OpSignature signature() const override {
    return {.inputs = {"x"},
            .attributes = {{"rate", AttributeKind::real, "the fraction dropped, in [0, 1)"},
                           {"seed", AttributeKind::integer, "the random stream (default 0)"}},
            .auxiliary_outputs = 1};
  }

  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override {
    expect_dtype(node, inputs, 0, DType::f32);
    const double rate = rate_of(node);
    if (!(rate >= 0.0 && rate < 1.0)) {
      fail_node(node, "rate must be in [0, 1), got " + std::to_string(rate));
    }
    return {inputs[0], inputs[0]};
  }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const float* x = context.f32(node.inputs[0]);
    float* y = context.f32(node.outputs[0]);
    float* mask = context.f32(node.outputs[1]);
    const int64_t count = context.type(node.inputs[0]).numel();
    if (!context.graph().training()) {
      // The identity; the mask of ones keeps a backward pass (gradient checks) consistent.
      return make_loop_kernel([=] {
        std::copy(x, x + count, y);
        std::fill(mask, mask + count, 1.f);
      });
    }
    const double rate = rate_of(node);
    const uint64_t threshold = keep_threshold(rate);
    const auto scale = float(1.0 / (1.0 - rate));
    const uint64_t seed = seed_of(node);
    const int64_t* step = context.step();
    return make_loop_kernel([=] {
      const uint64_t stream = step_stream(seed, *step);
      for_each_element(count, [=](int64_t i) {
        mask[i] = keeps(stream, threshold, i) ? scale : 0.f;
        y[i] = x[i] * mask[i];
      });
    });
  }

  // In a training graph, the kernel's own mask for the call's step and y = x·mask with
  // mask = 1/(1 - rate) where kept, 0 elsewhere; in any other graph the identity (mask 1).
  bool has_reference() const override { return true; }
  void reference(const ReferenceCall& call) const override {
    const std::span<const double> x = call.inputs[0];
    const std::span<double> y = call.outputs[0], mask = call.outputs[1];
    if (!call.training) {
      std::ranges::copy(x, y.begin());
      std::ranges::fill(mask, 1.0);
      return;
    }
    const double rate = rate_of(call.node);
    const uint64_t stream = step_stream(seed_of(call.node), call.step);
    for (size_t i = 0; i < x.size(); ++i) {
      mask[i] = keeps(stream, keep_threshold(rate), int64_t(i)) ? 1.0 / (1.0 - rate) : 0.0;
      y[i] = x[i] * mask[i];
    }
  }

  std::vector<std::optional<ValueId>> gradient(GradientBuilder& builder,
                                               const GradientRequest& request) const override {
    return {
        builder.emit(request.node, "mul", {request.output_gradient(), request.node.outputs[1]})};
  }
};

}  // namespace

void register_dropout(OpRegistry& registry) {
  registry.add(std::make_unique<Dropout>());
}

}  // namespace loom
