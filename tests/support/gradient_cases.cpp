#include "tests/support/gradient_cases.hpp"

#include "engine/core/random.hpp"

namespace loom::testing {

namespace {

using Ints = std::vector<int64_t>;

// The random stream of input `index` under `seed`.
uint64_t stream(uint64_t seed, uint64_t index) {
  return derive_seed(seed, 7919 * (index + 1));
}

OpInput uniform(const Shape& shape, uint64_t seed, uint64_t index, float low = -1.f,
                float high = 1.f, bool differentiable = true) {
  return f32_input(shape, random_values(numel(shape), stream(seed, index), low, high),
                   differentiable);
}

// One-hot rows [batch, classes], a target: no gradient.
OpInput one_hot(int64_t batch, int64_t classes, uint64_t seed) {
  Random random(stream(seed, 99));
  std::vector<float> values(size_t(batch * classes), 0.f);
  for (int64_t b = 0; b < batch; ++b)
    values[size_t(b * classes) + random.below(uint64_t(classes))] = 1;
  return f32_input({batch, classes}, values, false);
}

OpInput class_indices(int64_t batch, int64_t classes, uint64_t seed) {
  Random random(stream(seed, 98));
  std::vector<float> values(static_cast<size_t>(batch));
  for (float& v : values) v = float(random.below(uint64_t(classes)));
  return i32_input({batch}, values);
}

struct Sizes {
  int64_t rows, columns;
};
Sizes matrix(bool large) {
  return large ? Sizes{128, 128} : Sizes{6, 9};
}

GradientCase unary(const std::string& label, const std::string& op, float low = -1.f,
                   float high = 1.f, Attributes attributes = {}) {
  return {label, [=](uint64_t seed, bool large) {
            const auto [r, c] = matrix(large);
            return OpUnderTest{.op = op,
                               .attributes = attributes,
                               .inputs = {uniform({r, c}, seed, 0, low, high)},
                               .seed = seed};
          }};
}

void add_activations(std::vector<GradientCase>& cases) {
  for (const char* op : {"relu", "sigmoid", "tanh", "leaky_relu", "elu", "gelu", "swish", "silu",
                         "softplus", "exp"}) {
    cases.push_back(unary(op, op, -3.f, 3.f));
  }
  cases.push_back(unary("gelu approximate", "gelu", -3.f, 3.f, {{"approximate", true}}));
  cases.push_back(unary("elu alpha 0.5", "elu", -3.f, 3.f, {{"alpha", 0.5}}));
  cases.push_back(unary("log", "log", 0.1f, 2.f));
  cases.push_back(unary("sqrt", "sqrt", 0.1f, 2.f));
  cases.push_back(unary("softmax", "softmax", -3.f, 3.f));
  cases.push_back(unary("softmax axis 0", "softmax", -3.f, 3.f, {{"axis", int64_t{0}}}));
  cases.push_back(unary("log_softmax", "log_softmax", -3.f, 3.f));
  cases.push_back(unary("log_softmax axis 0", "log_softmax", -3.f, 3.f, {{"axis", int64_t{0}}}));
  cases.push_back(unary("scale", "scale", -1.f, 1.f, {{"factor", 1.7}}));
  cases.push_back(unary("l2_penalty", "l2_penalty", -1.f, 1.f, {{"factor", 0.01}}));
}

// Two operands: same shapes, a row broadcast to every row, or the first operand broadcast.
enum class Broadcast { none, second, first };

GradientCase binary(const std::string& op, Broadcast broadcast, float low_b = -1.f,
                    float high_b = 1.f) {
  const std::string label = op + (broadcast == Broadcast::none     ? ""
                                  : broadcast == Broadcast::second ? " broadcast [C]"
                                                                   : " broadcast first");
  return {label, [=](uint64_t seed, bool large) {
            const auto [r, c] = matrix(large);
            const Shape full{r, c}, row{c};
            const Shape a = broadcast == Broadcast::first ? row : full;
            const Shape b = broadcast == Broadcast::second ? row : full;
            return OpUnderTest{.op = op,
                               .inputs = {uniform(a, seed, 0), uniform(b, seed, 1, low_b, high_b)},
                               .seed = seed};
          }};
}

void add_arithmetic(std::vector<GradientCase>& cases) {
  for (const Broadcast broadcast : {Broadcast::none, Broadcast::second, Broadcast::first}) {
    cases.push_back(binary("add", broadcast));
    cases.push_back(binary("sub", broadcast));
    cases.push_back(binary("mul", broadcast));
    cases.push_back(binary("div", broadcast, 0.5f, 2.f));
  }
  cases.push_back({"add three", [](uint64_t seed, bool large) {
                     const auto [r, c] = matrix(large);
                     return OpUnderTest{
                         .op = "add",
                         .inputs = {uniform({r, c}, seed, 0), uniform({r, c}, seed, 1),
                                    uniform({r, c}, seed, 2)},
                         .seed = seed};
                   }});
  cases.push_back({"bias_add", [](uint64_t seed, bool large) {
                     const auto [r, c] = matrix(large);
                     return OpUnderTest{.op = "bias_add",
                                        .inputs = {uniform({r, c}, seed, 0), uniform({c}, seed, 1)},
                                        .seed = seed};
                   }});
}

// A matmul of [batch..., m, k] by [batch..., k, n] (matrices when `batch` is empty).
GradientCase matmul(const std::string& label, const std::string& op, Attributes attributes,
                    bool with_bias, Shape batch = {}) {
  return {label, [=](uint64_t seed, bool large) {
            // Batches of large matrices at a quarter of the side: the batched strides and
            // oneDNN's blocked kernels, at a hundredth of the finite differences' time.
            const int64_t side = batch.empty() ? 128 : 32;
            const int64_t m = large ? side : 5, k = large ? side : 7, n = large ? side : 4;
            const bool ta = attributes.get_bool("transpose_a", false);
            const bool tb = attributes.get_bool("transpose_b", false);
            const auto batched = [&](Shape matrix) {
              Shape shape = batch;
              shape.insert(shape.end(), matrix.begin(), matrix.end());
              return shape;
            };
            OpUnderTest test{.op = op, .attributes = attributes, .seed = seed};
            test.inputs = {uniform(batched(ta ? Shape{k, m} : Shape{m, k}), seed, 0),
                           uniform(batched(tb ? Shape{n, k} : Shape{k, n}), seed, 1)};
            if (with_bias) test.inputs.push_back(uniform({n}, seed, 2));
            return test;
          }};
}

void add_linear_algebra(std::vector<GradientCase>& cases) {
  cases.push_back(matmul("matmul", "matmul", {}, false));
  cases.push_back(matmul("matmul transpose_a", "matmul", {{"transpose_a", true}}, false));
  cases.push_back(matmul("matmul transpose_b", "matmul", {{"transpose_b", true}}, false));
  cases.push_back(matmul("matmul batched", "matmul", {}, false, {3}));
  cases.push_back(matmul("matmul batched 2x3 transposes", "matmul",
                         {{"transpose_a", true}, {"transpose_b", true}}, false, {2, 3}));
  cases.push_back(matmul("fused_matmul", "fused_matmul", {}, true));
  cases.push_back(
      matmul("fused_matmul relu", "fused_matmul", {{"activation", std::string("relu")}}, true));
}

void add_shapes(std::vector<GradientCase>& cases) {
  const auto shaped = [](const std::string& label, const std::string& op, Attributes attributes,
                         std::function<Shape(bool)> shape, size_t operands = 1) {
    return GradientCase{label, [=](uint64_t seed, bool large) {
                          OpUnderTest test{.op = op, .attributes = attributes, .seed = seed};
                          for (size_t i = 0; i < operands; ++i) {
                            test.inputs.push_back(uniform(shape(large), seed, i));
                          }
                          return test;
                        }};
  };
  const auto matrix_shape = [](bool large) {
    const auto [r, c] = matrix(large);
    return Shape{r, c};
  };
  const auto cube = [](bool large) { return large ? Shape{16, 32, 32} : Shape{3, 4, 5}; };
  const auto image = [](bool large) { return large ? Shape{4, 16, 16, 8} : Shape{2, 6, 6, 3}; };
  cases.push_back(shaped("reduce_sum axis 1", "reduce_sum", {{"axes", Ints{1}}}, matrix_shape));
  cases.push_back(shaped("reduce_sum axes 0 2", "reduce_sum", {{"axes", Ints{0, 2}}}, cube));
  cases.push_back(shaped("reduce_mean axis 0", "reduce_mean", {{"axes", Ints{0}}}, matrix_shape));
  cases.push_back(shaped("reduce_mean axes 1 2", "reduce_mean", {{"axes", Ints{1, 2}}}, cube));
  cases.push_back(shaped("reshape", "reshape", {{"shape", Ints{-1}}}, cube));
  cases.push_back(shaped("flatten", "flatten", {}, image));
  cases.push_back(shaped("transpose", "transpose", {{"perm", Ints{1, 0}}}, matrix_shape));
  cases.push_back(shaped("transpose 3d", "transpose", {{"perm", Ints{2, 0, 1}}}, cube));
  cases.push_back(shaped("concat", "concat", {}, matrix_shape, 3));
  cases.push_back(shaped("concat axis 0", "concat", {{"axis", int64_t{0}}}, cube, 2));
}

GradientCase window(const std::string& label, const std::string& op, Attributes attributes,
                    bool with_kernel = false, bool with_bias = false) {
  return {label, [=](uint64_t seed, bool large) {
            const int64_t batch = large ? 4 : 2, side = large ? 16 : 7, channels = large ? 8 : 3;
            const int64_t filters = large ? 16 : 4;
            OpUnderTest test{.op = op, .attributes = attributes, .seed = seed};
            test.inputs.push_back(uniform({batch, side, side, channels}, seed, 0));
            if (with_kernel) test.inputs.push_back(uniform({3, 3, channels, filters}, seed, 1));
            if (with_bias) test.inputs.push_back(uniform({filters}, seed, 2));
            return test;
          }};
}

void add_images(std::vector<GradientCase>& cases) {
  cases.push_back(window("conv2d", "conv2d", {}, true, true));
  cases.push_back(window("conv2d no bias", "conv2d", {}, true));
  cases.push_back(window("conv2d strides 2 same", "conv2d",
                         {{"strides", Ints{2, 2}}, {"padding", std::string("same")}}, true, true));
  cases.push_back(window("conv2d dilation 2", "conv2d", {{"dilation", Ints{2, 2}}}, true, true));
  cases.push_back(
      window("conv2d relu", "conv2d", {{"activation", std::string("relu")}}, true, true));
  cases.push_back(window("max_pool2d", "max_pool2d", {}));
  cases.push_back(window(
      "max_pool2d 3 stride 1 same", "max_pool2d",
      {{"pool_size", Ints{3, 3}}, {"strides", Ints{1, 1}}, {"padding", std::string("same")}}));
  cases.push_back(window("max_pool2d 2 stride 3 same", "max_pool2d",
                         {{"strides", Ints{3, 3}}, {"padding", std::string("same")}}));
  cases.push_back(window("avg_pool2d", "avg_pool2d", {}));
  cases.push_back(window(
      "avg_pool2d 3 stride 2 same", "avg_pool2d",
      {{"pool_size", Ints{3, 3}}, {"strides", Ints{2, 2}}, {"padding", std::string("same")}}));
  cases.push_back(window("global_avg_pool2d", "global_avg_pool2d", {}));
  for (const bool training : {true, false}) {
    for (const bool images : {true, false}) {
      cases.push_back({std::string("batch_norm ") + (training ? "training" : "inference") +
                           (images ? " images" : " rows"),
                       [=](uint64_t seed, bool large) {
                         const Shape x = images ? (large ? Shape{8, 8, 8, 16} : Shape{4, 3, 3, 5})
                                                : (large ? Shape{128, 128} : Shape{8, 5});
                         const Shape c{x.back()};
                         return OpUnderTest{
                             .op = "batch_norm",
                             .inputs = {uniform(x, seed, 0, -2.f, 3.f),
                                        uniform(c, seed, 1, 0.5f, 2.f), uniform(c, seed, 2),
                                        uniform(c, seed, 3, -1.f, 1.f, false),
                                        uniform(c, seed, 4, 0.5f, 2.f, false)},
                             .training = training,
                             .seed = seed};
                       }});
    }
  }
  for (const bool training : {true, false}) {
    cases.push_back(
        {training ? "dropout training" : "dropout inference", [=](uint64_t seed, bool large) {
           const auto [r, c] = matrix(large);
           return OpUnderTest{.op = "dropout",
                              .attributes = {{"rate", 0.3}, {"seed", int64_t(seed)}},
                              .inputs = {uniform({r, c}, seed, 0)},
                              .training = training,
                              .seed = seed};
         }});
  }
}

// A loss between predictions in [low, high] and its targets.
GradientCase loss(const std::string& label, const std::string& op, float low, float high,
                  std::function<OpInput(int64_t, int64_t, uint64_t)> targets,
                  Attributes attributes = {}) {
  return {label, [=](uint64_t seed, bool large) {
            const auto [r, c] = large ? Sizes{128, 128} : Sizes{8, 10};
            return OpUnderTest{.op = op,
                               .attributes = attributes,
                               .inputs = {uniform({r, c}, seed, 0, low, high), targets(r, c, seed)},
                               .seed = seed};
          }};
}

void add_losses(std::vector<GradientCase>& cases) {
  const auto dense = [](int64_t r, int64_t c, uint64_t seed) { return one_hot(r, c, seed); };
  const auto sparse = [](int64_t r, int64_t c, uint64_t seed) { return class_indices(r, c, seed); };
  const auto soft = [](int64_t r, int64_t c, uint64_t seed) {
    return uniform({r, c}, seed, 1, 0.f, 1.f, false);
  };
  const auto values = [](int64_t r, int64_t c, uint64_t seed) {
    return uniform({r, c}, seed, 1, -1.f, 1.f, false);
  };
  cases.push_back(loss("categorical_crossentropy", "categorical_crossentropy", 0.05f, 1.f, dense));
  cases.push_back(loss("sparse_categorical_crossentropy", "sparse_categorical_crossentropy", 0.05f,
                       1.f, sparse));
  cases.push_back(loss("softmax_crossentropy", "softmax_crossentropy", -3.f, 3.f, dense));
  cases.push_back(loss("softmax_crossentropy sparse", "softmax_crossentropy", -3.f, 3.f, sparse));
  cases.push_back(loss("binary_crossentropy", "binary_crossentropy", 0.05f, 0.95f, soft));
  cases.push_back(loss("binary_crossentropy from_logits", "binary_crossentropy", -3.f, 3.f, soft,
                       {{"from_logits", true}}));
  cases.push_back(loss("mean_squared_error", "mean_squared_error", -1.f, 1.f, values));
  cases.push_back(loss("mean_absolute_error", "mean_absolute_error", -1.f, 1.f, values));
  cases.push_back(loss("huber", "huber", -1.f, 1.f, values, {{"delta", 0.5}}));
}

}  // namespace

std::vector<GradientCase> gradient_cases() {
  std::vector<GradientCase> cases;
  add_linear_algebra(cases);
  add_activations(cases);
  add_arithmetic(cases);
  add_shapes(cases);
  add_images(cases);
  add_losses(cases);
  return cases;
}

}  // namespace loom::testing
