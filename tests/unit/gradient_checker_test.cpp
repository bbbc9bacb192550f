// The gradient checker itself is checked both ways: it passes every built-in op's correct
// gradient over many seeds (no false failures), and it fails every planted wrong gradient
// (a mutant): one input's gradient scaled by 1.01, one term of the chain rule dropped (the
// first sample's output gradient zeroed), or a gradient's elements transposed.

#include <gtest/gtest.h>

#include <cstdlib>
#include <mutex>

#include "engine/exec/compile_context.hpp"
#include "engine/exec/loop_kernel.hpp"
#include "engine/graph/op.hpp"
#include "tests/support/gradient_cases.hpp"

namespace loom::testing {
namespace {

// --- The mutations, as internal ops the mutant's gradient rule emits ---------------------

// An internal op y = f(x) of x's shape, by a loop over x read as [rows, rest].
class Rearrangement : public Op {
 public:
  OpSignature signature() const override { return {.inputs = {"x"}, .internal = true}; }
  std::vector<TensorType> infer(const Node&, std::span<const TensorType> inputs) const override {
    return {inputs[0]};
  }
  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const TensorType& type = context.type(node.inputs[0]);
    const float* x = context.f32(node.inputs[0]);
    float* y = context.f32(node.outputs[0]);
    const int64_t count = type.numel();
    const int64_t rows = type.shape.empty() ? 1 : type.shape[0];
    return make_loop_kernel([=, this] { rearrange(x, y, rows, count / rows); });
  }

 protected:
  virtual void rearrange(const float* x, float* y, int64_t rows, int64_t columns) const = 0;
};

// mutation_zero_first(x): x with its first row (index 0 of axis 0) zeroed.
class ZeroFirstRow final : public Rearrangement {
 public:
  std::string_view name() const override { return "mutation_zero_first"; }

 private:
  void rearrange(const float* x, float* y, int64_t rows, int64_t columns) const override {
    for (int64_t i = 0; i < rows * columns; ++i) y[i] = i < columns ? 0.f : x[i];
  }
};

// mutation_transpose(x): x's elements written transposed (reversed when either side is 1), in
// x's shape: a gradient written in the wrong order.
class TransposeElements final : public Rearrangement {
 public:
  std::string_view name() const override { return "mutation_transpose"; }

 private:
  void rearrange(const float* x, float* y, int64_t rows, int64_t columns) const override {
    const int64_t count = rows * columns;
    for (int64_t i = 0; i < count; ++i) {
      if (rows == 1 || columns == 1) {
        y[count - 1 - i] = x[i];
      } else {
        y[(i % columns) * rows + i / columns] = x[i];
      }
    }
  }
};

enum class Mutation { scale, drop_term, transpose };

const char* name_of(Mutation mutation) {
  switch (mutation) {
    case Mutation::scale:
      return "scale";
    case Mutation::drop_term:
      return "drop_term";
    case Mutation::transpose:
      return "transpose";
  }
  return "?";
}

// The op under test with a planted error in its gradient rule; everything else is the op's.
class Mutant final : public Op {
 public:
  Mutant(const Op& op, Mutation mutation, size_t input)
      : op_(op),
        mutation_(mutation),
        input_(input),
        name_("mutant/" + std::string(name_of(mutation)) + "/" + std::to_string(input) + "/" +
              std::string(op.name())) {}
  std::string_view name() const override { return name_; }
  OpSignature signature() const override { return op_.signature(); }
  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override {
    return op_.infer(node, inputs);
  }
  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    return op_.compile(node, context);
  }
  std::optional<size_t> in_place_input(const Node& node) const override {
    return op_.in_place_input(node);
  }
  void negotiate_layouts(const Node& node, LayoutNegotiation& negotiation) const override {
    op_.negotiate_layouts(node, negotiation);
  }
  bool has_reference() const override { return op_.has_reference(); }
  void reference(const ReferenceCall& call) const override { op_.reference(call); }

  std::vector<std::optional<ValueId>> gradient(GradientBuilder& builder,
                                               const GradientRequest& request) const override {
    if (mutation_ == Mutation::drop_term) {
      std::vector<std::optional<ValueId>> dropped(request.output_gradients.begin(),
                                                  request.output_gradients.end());
      dropped[0] = builder.emit(request.node, "mutation_zero_first", {request.output_gradient()});
      return op_.gradient(builder, {request.node, dropped, request.wanted});
    }
    std::vector<std::optional<ValueId>> gradients = op_.gradient(builder, request);
    std::optional<ValueId>& target = gradients.at(input_);
    if (!target) return gradients;
    target = mutation_ == Mutation::scale
                 ? builder.emit(request.node, "scale", {*target}, {{"factor", 1.01}})
                 : builder.emit(request.node, "mutation_transpose", {*target});
    return gradients;
  }

 private:
  const Op& op_;
  Mutation mutation_;
  size_t input_;
  std::string name_;
};

// The mutant's name, registered on first use.
std::string mutant_of(const std::string& op, Mutation mutation, size_t input) {
  static std::mutex mutex;
  const std::lock_guard lock(mutex);
  OpRegistry& registry = OpRegistry::global();
  if (!registry.find("mutation_zero_first")) {
    registry.add(std::make_unique<ZeroFirstRow>());
    registry.add(std::make_unique<TransposeElements>());
  }
  auto mutant = std::make_unique<Mutant>(registry.get(op), mutation, input);
  const std::string name(mutant->name());
  if (!registry.find(name)) registry.add(std::move(mutant));
  return name;
}

std::string describe(const std::vector<GradientReport>& reports) {
  std::string text;
  for (const GradientReport& r : reports) {
    text += "\n  input " + std::to_string(r.input) + ": checked " + std::to_string(r.checked) +
            ", kinks " + std::to_string(r.kinks) + ", failures " + std::to_string(r.failures) +
            ", worst abs " + std::to_string(r.worst_absolute) + ", worst rel " +
            std::to_string(r.worst_relative);
  }
  return text;
}

// --- No false failures ----------------------------------------------------------------------

// Seeds per case: LOOM_GRADCHECK_SEEDS (default 20) at the small size,
// LOOM_GRADCHECK_LARGE_SEEDS (default 1) at the large one; tools/gradcheck_sweep.sh sets both.
// tools/sanitize.sh sets the large one to 0: under the sanitizers the double-precision
// reference arithmetic takes minutes, on the code paths the small sizes already cover.
int seeds_from(const char* variable, int fallback, int least = 1) {
  const char* text = std::getenv(variable);
  return text ? std::max(least, std::atoi(text)) : fallback;
}

class CorrectGradient : public ::testing::TestWithParam<GradientCase> {};

TEST_P(CorrectGradient, PassesOverEverySeed) {
  for (int seed = 1; seed <= seeds_from("LOOM_GRADCHECK_SEEDS", 20); ++seed) {
    const OpUnderTest test = GetParam().make(uint64_t(seed), false);
    const std::vector<GradientReport> reports = check_gradients(test);
    for (const GradientReport& report : reports) {
      EXPECT_EQ(report.failures, 0) << GetParam().label << ", seed " << seed << describe(reports);
      EXPECT_GT(report.checked, 0) << GetParam().label << ", seed " << seed;
    }
  }
}

// At 128×128, a sample of 256 elements per input (every one would need two 128³ matmuls in
// double precision per difference).
TEST_P(CorrectGradient, PassesAtLargeShapes) {
  const int seeds = seeds_from("LOOM_GRADCHECK_LARGE_SEEDS", 1, 0);
  if (seeds == 0) GTEST_SKIP() << "LOOM_GRADCHECK_LARGE_SEEDS=0";
  for (int seed = 1; seed <= seeds; ++seed) {
    const OpUnderTest test = GetParam().make(uint64_t(seed), true);
    const std::vector<GradientReport> reports = check_gradients(test, {}, 256);
    for (const GradientReport& report : reports) {
      EXPECT_EQ(report.failures, 0) << GetParam().label << ", seed " << seed << describe(reports);
    }
  }
}

// --- Every mutant caught ----------------------------------------------------------------------

TEST_P(CorrectGradient, CatchesEveryMutant) {
  const OpUnderTest correct = GetParam().make(1, false);
  for (size_t input = 0; input < correct.inputs.size(); ++input) {
    if (!correct.inputs[input].differentiable) continue;
    for (const Mutation mutation : {Mutation::scale, Mutation::transpose, Mutation::drop_term}) {
      if (mutation == Mutation::drop_term && input > 0) continue;  // it acts on every input
      OpUnderTest mutant = correct;
      mutant.op = mutant_of(correct.op, mutation, input);
      const std::vector<GradientReport> reports = check_gradients(mutant);
      int64_t failures = 0;
      for (const GradientReport& report : reports) {
        if (mutation == Mutation::drop_term || report.input == input) failures += report.failures;
      }
      EXPECT_GT(failures, 0) << GetParam().label << ": the " << name_of(mutation)
                             << " mutant of input " << input << " passed" << describe(reports);
    }
  }
}

std::string case_name(const ::testing::TestParamInfo<GradientCase>& info) {
  std::string name = info.param.label;
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(BuiltInOps, CorrectGradient, ::testing::ValuesIn(gradient_cases()),
                         case_name);

}  // namespace
}  // namespace loom::testing
