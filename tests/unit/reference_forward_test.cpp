// Every user-visible op's double-precision reference forward (Op::reference, what the gradient
// checker differentiates) against its compiled kernel (run_forward) on the same random inputs,
// with the attribute variations each op has. The list of ops comes from the registry, so a
// new op without a reference, or without a case here, fails.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <ostream>

#include "engine/graph/op.hpp"
#include "engine/plugin/load_plugin.hpp"
#include "tests/support/op_harness.hpp"

namespace loom::testing {
namespace {

// The registry with the example plugin's prelu in it: plugins' ops need references too.
const OpRegistry& registry() {
  load_plugin(LOOM_EXAMPLE_PLUGIN);  // once per process; a second load does nothing
  return OpRegistry::global();
}

struct Case {
  std::string label;  // the test's name
  OpUnderTest test;
  // Compare the auxiliary outputs too (batch_norm's batch statistics and dropout's mask).
  bool auxiliary = false;
};

// |reference - kernel| <= kTolerance·(1 + |kernel|): float32 rounding of the kernels. Every op
// fits, the approximate ones included; the largest measured were oneDNN's log (3e-6) and
// softplus at |x| near 30 (2e-6), the rest below 3e-7. That holds for these small shapes:
// kernels sum in float, and longer sums drift further (measured: a 400-term convolution 7e-6,
// batch_norm over 4096 values of mean 5.5 and variance 0.08 4e-5).
constexpr double kTolerance = 1e-5;

void PrintTo(const Case& c, std::ostream* out) {
  *out << c.label;
}

// ---- inputs in each op's domain ---------------------------------------------------------------

uint64_t next_seed = 1;

OpInput uniform(Shape shape, float low = -1.f, float high = 1.f) {
  const int64_t count = numel(shape);
  return f32_input(std::move(shape), random_values(count, next_seed++, low, high));
}

OpInput positive(Shape shape) {
  return uniform(std::move(shape), 0.1f, 3.f);
}

OpInput one_hot(int64_t rows, int64_t classes) {
  std::vector<float> values(size_t(rows * classes), 0.f);
  for (int64_t r = 0; r < rows; ++r) values[size_t(r * classes + (r * 7 + 3) % classes)] = 1.f;
  return f32_input({rows, classes}, values, false);
}

OpInput class_indices(int64_t rows, int64_t classes) {
  std::vector<float> labels;
  for (int64_t r = 0; r < rows; ++r) labels.push_back(float((r * 5 + 1) % classes));
  return i32_input({rows}, labels);
}

OpInput targets(Shape shape, float low = -1.f, float high = 1.f) {
  OpInput input = uniform(std::move(shape), low, high);
  input.differentiable = false;
  return input;
}

Case make(std::string label, std::string op, Attributes attributes, std::vector<OpInput> inputs,
          bool training = false) {
  return {std::move(label), {std::move(op), std::move(attributes), std::move(inputs), training}};
}

// ---- the cases --------------------------------------------------------------------------------

void add_elementwise(std::vector<Case>& cases) {
  for (const char* op : {"relu", "sigmoid", "tanh", "exp", "swish", "silu", "softplus"}) {
    cases.push_back(make(op, op, {}, {uniform({4, 6}, -4.f, 4.f)}));
  }
  cases.push_back(make("softplus_large", "softplus", {}, {uniform({3, 5}, -30.f, 30.f)}));
  cases.push_back(make("log", "log", {}, {positive({4, 6})}));
  cases.push_back(make("sqrt", "sqrt", {}, {positive({4, 6})}));
  cases.push_back(make("leaky_relu", "leaky_relu", {}, {uniform({4, 6})}));
  cases.push_back(
      make("leaky_relu_slope", "leaky_relu", {{"negative_slope", 0.05}}, {uniform({24})}));
  cases.push_back(make("elu", "elu", {}, {uniform({4, 6}, -3.f, 3.f)}));
  cases.push_back(make("elu_alpha", "elu", {{"alpha", 0.5}}, {uniform({2, 3, 4}, -3.f, 3.f)}));
  cases.push_back(make("gelu", "gelu", {}, {uniform({4, 6}, -4.f, 4.f)}));
  cases.push_back(make("gelu_erf", "gelu", {{"approximate", false}}, {uniform({4, 6}, -4.f, 4.f)}));
  cases.push_back(make("gelu_tanh", "gelu", {{"approximate", true}}, {uniform({4, 6}, -4.f, 4.f)}));
  cases.push_back(make("scale", "scale", {{"factor", 2.5}}, {uniform({4, 6})}));
  cases.push_back(make("scale_negative", "scale", {{"factor", -1.0}}, {uniform({3})}));
  cases.push_back(make("softmax", "softmax", {}, {uniform({3, 5}, -3.f, 3.f)}));
  cases.push_back(make("softmax_axis0", "softmax", {{"axis", int64_t{0}}}, {uniform({3, 5})}));
  cases.push_back(make("softmax_middle", "softmax", {{"axis", int64_t{1}}}, {uniform({2, 3, 4})}));
  cases.push_back(make("log_softmax", "log_softmax", {}, {uniform({3, 5}, -3.f, 3.f)}));
  cases.push_back(
      make("log_softmax_middle", "log_softmax", {{"axis", int64_t{1}}}, {uniform({2, 3, 4})}));
}

void add_linear_algebra(std::vector<Case>& cases) {
  for (const bool ta : {false, true}) {
    for (const bool tb : {false, true}) {
      const std::string label = std::string("matmul") + (ta ? "_ta" : "") + (tb ? "_tb" : "");
      cases.push_back(
          make(label, "matmul", {{"transpose_a", ta}, {"transpose_b", tb}},
               {uniform(ta ? Shape{4, 3} : Shape{3, 4}), uniform(tb ? Shape{5, 4} : Shape{4, 5})}));
    }
  }
  cases.push_back(make("fused_matmul_bias_relu", "fused_matmul",
                       {{"activation", std::string("relu")}},
                       {uniform({3, 4}), uniform({4, 5}), uniform({5})}));
  cases.push_back(
      make("fused_matmul_plain", "fused_matmul", {}, {uniform({3, 4}), uniform({4, 5})}));
  cases.push_back(make("fused_matmul_tb_bias", "fused_matmul", {{"transpose_b", true}},
                       {uniform({3, 4}), uniform({5, 4}), uniform({5})}));
  cases.push_back(make("bias_add", "bias_add", {}, {uniform({3, 4}), uniform({4})}));
  cases.push_back(make("bias_add_rank3", "bias_add", {}, {uniform({2, 3, 4}), uniform({4})}));
  cases.push_back(make("l2_penalty", "l2_penalty", {{"factor", 0.01}}, {uniform({4, 5})}));
}

void add_arithmetic(std::vector<Case>& cases) {
  cases.push_back(make("add", "add", {}, {uniform({3, 4}), uniform({3, 4})}));
  cases.push_back(
      make("add_three", "add", {}, {uniform({3, 4}), uniform({3, 4}), uniform({3, 4})}));
  cases.push_back(make("add_broadcast_b", "add", {}, {uniform({2, 3, 4}), uniform({3, 1})}));
  cases.push_back(make("add_broadcast_a", "add", {}, {uniform({4}), uniform({2, 3, 4})}));
  cases.push_back(make("add_broadcast_both", "add", {}, {uniform({3, 1}), uniform({1, 4})}));
  for (const char* op : {"sub", "mul", "div"}) {
    // div's divisors stay clear of 0; the other operands span both signs.
    const auto b = [&](Shape shape) {
      return std::string(op) == "div" ? uniform(std::move(shape), 0.5f, 2.f) : uniform(shape);
    };
    cases.push_back(make(op, op, {}, {uniform({3, 4}), b({3, 4})}));
    cases.push_back(make(std::string(op) + "_broadcast_b", op, {}, {uniform({2, 3, 4}), b({4})}));
    cases.push_back(
        make(std::string(op) + "_broadcast_a", op, {}, {uniform({3, 1}), b({2, 3, 4})}));
    cases.push_back(
        make(std::string(op) + "_broadcast_both", op, {}, {uniform({1, 4}), b({3, 1})}));
  }
}

void add_shapes(std::vector<Case>& cases) {
  const std::vector<std::pair<std::string, std::vector<int64_t>>> axes = {
      {"0", {0}}, {"last", {-1}}, {"0_2", {0, 2}}, {"1", {1}}, {"all", {0, 1, 2}}};
  for (const auto& [name, list] : axes) {
    for (const char* op : {"reduce_sum", "reduce_mean"}) {
      cases.push_back(
          make(std::string(op) + "_" + name, op, {{"axes", list}}, {uniform({2, 3, 4})}));
    }
  }
  cases.push_back(
      make("reshape", "reshape", {{"shape", std::vector<int64_t>{6, 4}}}, {uniform({2, 3, 4})}));
  cases.push_back(make("reshape_inferred", "reshape", {{"shape", std::vector<int64_t>{4, -1}}},
                       {uniform({2, 3, 4})}));
  cases.push_back(make("flatten", "flatten", {}, {uniform({2, 3, 2, 2})}));
  cases.push_back(make("transpose", "transpose", {}, {uniform({2, 3, 4})}));
  for (const std::vector<int64_t>& perm :
       std::vector<std::vector<int64_t>>{{0, 2, 1}, {1, 0, 2}, {2, 0, 1}, {1, 2, 0}}) {
    std::string label = "transpose";
    for (int64_t axis : perm) label += "_" + std::to_string(axis);
    cases.push_back(make(label, "transpose", {{"perm", perm}}, {uniform({2, 3, 4})}));
  }
  cases.push_back(make("concat", "concat", {}, {uniform({2, 3}), uniform({2, 4})}));
  cases.push_back(make("concat_axis0", "concat", {{"axis", int64_t{0}}},
                       {uniform({1, 3}), uniform({2, 3}), uniform({3, 3})}));
  cases.push_back(make("concat_middle", "concat", {{"axis", int64_t{1}}},
                       {uniform({2, 1, 3}), uniform({2, 2, 3})}));
}

void add_images(std::vector<Case>& cases) {
  struct Conv {
    std::string label;
    Attributes attributes;
    Shape x, kernel;
    bool bias;
  };
  const std::vector<Conv> convs = {
      {"valid_bias", {}, {2, 5, 5, 3}, {3, 3, 3, 4}, true},
      {"same_stride2",
       {{"padding", std::string("same")}, {"strides", std::vector<int64_t>{2}}},
       {2, 6, 5, 2},
       {3, 3, 2, 3},
       false},
      {"dilation2", {{"dilation", std::vector<int64_t>{2}}}, {1, 7, 7, 2}, {3, 3, 2, 2}, true},
      {"same_dilation",
       {{"padding", std::string("same")}, {"dilation", std::vector<int64_t>{2, 1}}},
       {1, 6, 6, 2},
       {3, 2, 2, 3},
       true},
      {"strides_2_1_relu",
       {{"strides", std::vector<int64_t>{2, 1}}, {"activation", std::string("relu")}},
       {2, 7, 5, 3},
       {2, 3, 3, 4},
       true},
      {"same_even_kernel", {{"padding", std::string("same")}}, {1, 5, 4, 1}, {2, 2, 1, 2}, false}};
  for (const Conv& conv : convs) {
    std::vector<OpInput> inputs = {uniform(conv.x), uniform(conv.kernel)};
    if (conv.bias) inputs.push_back(uniform({conv.kernel[3]}));
    cases.push_back(make("conv2d_" + conv.label, "conv2d", conv.attributes, inputs));
  }
  const std::vector<std::pair<std::string, Attributes>> pools = {
      {"default", {}},
      {"same_3_stride2",
       {{"pool_size", std::vector<int64_t>{3}},
        {"strides", std::vector<int64_t>{2}},
        {"padding", std::string("same")}}},
      {"same_2x3_strides_1x2",
       {{"pool_size", std::vector<int64_t>{2, 3}},
        {"strides", std::vector<int64_t>{1, 2}},
        {"padding", std::string("same")}}},
      {"valid_3_stride1",
       {{"pool_size", std::vector<int64_t>{3}}, {"strides", std::vector<int64_t>{1}}}}};
  for (const auto& [label, attributes] : pools) {
    for (const char* op : {"max_pool2d", "avg_pool2d"}) {
      cases.push_back(make(std::string(op) + "_" + label, op, attributes, {uniform({2, 5, 7, 3})}));
    }
  }
  cases.push_back(make("global_avg_pool2d", "global_avg_pool2d", {}, {uniform({2, 3, 4, 5})}));
  for (const bool training : {true, false}) {
    for (const Shape& x : {Shape{8, 3}, Shape{2, 3, 3, 4}}) {
      const int64_t c = x.back();
      Case batch_norm = make(std::string("batch_norm_") + (training ? "training_" : "inference_") +
                                 "rank" + std::to_string(x.size()),
                             "batch_norm", {{"epsilon", 0.01}},
                             {uniform(x, -2.f, 3.f), uniform({c}, 0.5f, 1.5f), uniform({c}),
                              targets({c}), targets({c}, 0.5f, 2.f)},
                             training);
      batch_norm.auxiliary = training;
      cases.push_back(batch_norm);
    }
  }
}

void add_training_and_losses(std::vector<Case>& cases) {
  for (const auto& [label, rate, seed] :
       {std::tuple{"half", 0.5, int64_t{3}}, std::tuple{"fifth", 0.2, int64_t{11}}}) {
    Case dropout = make(std::string("dropout_training_") + label, "dropout",
                        {{"rate", rate}, {"seed", seed}}, {uniform({6, 7})}, true);
    dropout.auxiliary = true;
    cases.push_back(dropout);
  }
  Case identity = make("dropout_inference", "dropout", {{"rate", 0.5}}, {uniform({4, 5})});
  identity.auxiliary = true;
  cases.push_back(identity);

  // Probabilities that do not sum to 1 (the formula renormalizes) and one row with an entry
  // below the clipping bound.
  OpInput p = uniform({4, 5}, 0.01f, 1.f);
  p.values[2] = 1e-9f;
  cases.push_back(
      make("categorical_crossentropy", "categorical_crossentropy", {}, {p, one_hot(4, 5)}));
  cases.push_back(make("categorical_crossentropy_soft", "categorical_crossentropy", {},
                       {uniform({3, 4}, 0.01f, 1.f), targets({3, 4}, 0.f, 1.f)}));
  cases.push_back(make("sparse_categorical_crossentropy", "sparse_categorical_crossentropy", {},
                       {p, class_indices(4, 5)}));
  cases.push_back(make("softmax_crossentropy", "softmax_crossentropy", {},
                       {uniform({4, 5}, -3.f, 3.f), one_hot(4, 5)}));
  cases.push_back(make("softmax_crossentropy_sparse", "softmax_crossentropy", {},
                       {uniform({4, 5}, -3.f, 3.f), class_indices(4, 5)}));
  OpInput probabilities = uniform({4, 3}, 0.02f, 0.98f);
  probabilities.values[0] = 0.f;  // clipped
  cases.push_back(make("binary_crossentropy", "binary_crossentropy", {},
                       {probabilities, targets({4, 3}, 0.f, 1.f)}));
  cases.push_back(make("binary_crossentropy_logits", "binary_crossentropy", {{"from_logits", true}},
                       {uniform({4, 3}, -5.f, 5.f), targets({4, 3}, 0.f, 1.f)}));
  cases.push_back(
      make("mean_squared_error", "mean_squared_error", {}, {uniform({4, 3}), targets({4, 3})}));
  cases.push_back(
      make("mean_absolute_error", "mean_absolute_error", {}, {uniform({4, 3}), targets({4, 3})}));
  cases.push_back(make("huber", "huber", {}, {uniform({4, 3}, -2.f, 2.f), targets({4, 3})}));
  cases.push_back(
      make("huber_delta", "huber", {{"delta", 0.3}}, {uniform({4, 3}), targets({4, 3})}));
  cases.push_back(make("prelu", "prelu", {}, {uniform({4, 6}), uniform({6}, 0.f, 0.5f)}));
}

std::vector<Case> all_cases() {
  next_seed = 1;
  std::vector<Case> cases;
  add_elementwise(cases);
  add_linear_algebra(cases);
  add_arithmetic(cases);
  add_shapes(cases);
  add_images(cases);
  add_training_and_losses(cases);
  return cases;
}

// ---- running the reference --------------------------------------------------------------------

// The op's reference on the test's inputs, on a node built as run_forward builds it. (A helper
// the gradient checker will have in its own form; kept here while engine/check is rewritten.)
std::vector<std::vector<double>> run_reference(const OpUnderTest& test, int64_t step = 0) {
  Graph graph;
  std::vector<ValueId> inputs;
  for (size_t i = 0; i < test.inputs.size(); ++i) {
    inputs.push_back(graph.add_input("in" + std::to_string(i), test.inputs[i].type));
  }
  graph.set_training(test.training);
  const std::vector<ValueId> outputs =
      graph.add_node("under_test", test.op, inputs, test.attributes);
  const Node& node = graph.nodes().back();

  std::vector<TensorType> input_types, output_types;
  std::vector<std::vector<double>> input_values, output_values;
  for (size_t i = 0; i < inputs.size(); ++i) {
    input_types.push_back(graph.value(inputs[i]).type);
    input_values.emplace_back(test.inputs[i].values.begin(), test.inputs[i].values.end());
  }
  for (ValueId output : outputs) {
    output_types.push_back(graph.value(output).type);
    output_values.emplace_back(size_t(output_types.back().numel()), 0.0);
  }
  const std::vector<std::span<const double>> input_spans(input_values.begin(), input_values.end());
  const std::vector<std::span<double>> output_spans(output_values.begin(), output_values.end());
  node.op->reference({.node = node,
                      .training = test.training,
                      .step = step,
                      .input_types = input_types,
                      .output_types = output_types,
                      .inputs = input_spans,
                      .outputs = output_spans});
  return output_values;
}

class ReferenceForward : public ::testing::TestWithParam<Case> {};

TEST_P(ReferenceForward, MatchesTheKernel) {
  const Case& c = GetParam();
  const Op& op = registry().get(c.test.op);
  ASSERT_TRUE(op.has_reference()) << c.test.op;
  const std::vector<std::vector<float>> kernel = run_forward(c.test);
  const std::vector<std::vector<double>> reference = run_reference(c.test);
  ASSERT_EQ(kernel.size(), reference.size());
  const size_t compared =
      c.auxiliary ? kernel.size() : kernel.size() - op.signature().auxiliary_outputs;
  for (size_t k = 0; k < compared; ++k) {
    ASSERT_EQ(kernel[k].size(), reference[k].size()) << "output " << k;
    for (size_t i = 0; i < kernel[k].size(); ++i) {
      const double expected = kernel[k][i];
      ASSERT_NEAR(reference[k][i], expected, kTolerance * (1 + std::abs(expected)))
          << "output " << k << ", element " << i;
    }
  }
}

std::string case_name(const ::testing::TestParamInfo<Case>& param) {
  return param.param.label;
}

INSTANTIATE_TEST_SUITE_P(EveryOp, ReferenceForward, ::testing::ValuesIn(all_cases()), case_name);

TEST(ReferenceForward, EveryUserVisibleOpHasAReferenceAndACase) {
  const std::vector<Case> cases = all_cases();
  for (const std::string& name : registry().names()) {
    EXPECT_TRUE(registry().get(name).has_reference()) << name << " has no reference forward";
    EXPECT_TRUE(std::ranges::any_of(cases, [&](const Case& c) { return c.test.op == name; }))
        << name << " has no case in this test";
  }
}

// run_forward runs step 0; another step draws another mask, the same way in the reference.
TEST(ReferenceForward, DropoutMasksDependOnTheStep) {
  const OpUnderTest test{"dropout", {{"rate", 0.5}, {"seed", int64_t{5}}}, {uniform({64})}, true};
  const std::vector<double> first = run_reference(test, 0)[1], second = run_reference(test, 1)[1];
  EXPECT_NE(first, second);
  for (const std::vector<double>& mask : {first, second}) {
    const auto dropped = std::ranges::count(mask, 0.0);
    EXPECT_GT(dropped, 16);
    EXPECT_LT(dropped, 48);
    EXPECT_EQ(std::ranges::count(mask, 2.0), 64 - dropped);
  }
}

// reorder only exists in plans (a layout change): over plain tensors it is the identity.
TEST(ReferenceForward, ReorderIsTheIdentity) {
  const OpUnderTest test{"reorder", {}, {uniform({2, 3})}};
  const std::vector<std::vector<double>> y = run_reference(test);
  ASSERT_EQ(y.size(), 1u);
  for (size_t i = 0; i < y[0].size(); ++i) EXPECT_EQ(y[0][i], double(test.inputs[0].values[i]));
}

}  // namespace
}  // namespace loom::testing
