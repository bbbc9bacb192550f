// Normalization's adapt step on data made here: mean and variance per feature (and per channel
// along another axis) against values computed by hand, a constant feature's guard, and the
// accuracy of float32 data with a large mean and a small spread.

#include "engine/train/adapt.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

namespace loom {
namespace {

Dataset floats(Shape sample_shape, const std::vector<float>& values) {
  std::vector<std::byte> bytes(values.size() * sizeof(float));
  std::memcpy(bytes.data(), values.data(), bytes.size());
  const SampleArray features =
      SampleArray::owned(ElementType::float32, std::move(sample_shape), std::move(bytes));
  return Dataset({.features = features}, BatchFormat{});
}

// The three parameters a normalization layer along `axis` has, in a store.
struct Layer {
  ModelSpec model;
  ParameterStore store;
  Layer(Shape shape, int64_t axis) {
    Graph graph;
    for (const auto& [name, statistic] :
         {std::pair{"n/mean", ParameterSpec::Adapt::mean},
          std::pair{"n/variance", ParameterSpec::Adapt::variance},
          std::pair{"n/inverse_std", ParameterSpec::Adapt::inverse_std}}) {
      model.parameters.push_back({.name = name,
                                  .shape = shape,
                                  .trainable = false,
                                  .adapt = statistic,
                                  .adapt_axis = axis});
      graph.add_parameter(name, {DType::f32, shape}, Initializer{.name = "zeros"}, false);
    }
    store.initialize_from(graph, 1);
  }
  std::vector<float> values(const std::string& name) {
    const auto span = store.at(name);
    return {span.begin(), span.end()};
  }
};

TEST(Adapt, MeanAndVariancePerFeature) {
  // Two features over three samples: (1, 10), (2, 10), (6, 10).
  Layer layer({2}, 0);
  adapt_normalization(layer.model, floats({2}, {1, 10, 2, 10, 6, 10}), layer.store);
  EXPECT_EQ(layer.values("n/mean"), (std::vector<float>{3, 10}));
  // Population variance, as Keras: ((1-3)² + (2-3)² + (6-3)²) / 3 = 14/3.
  EXPECT_FLOAT_EQ(layer.values("n/variance")[0], 14.f / 3.f);
  EXPECT_FLOAT_EQ(layer.values("n/variance")[1], 0.f);
  EXPECT_FLOAT_EQ(layer.values("n/inverse_std")[0], float(1 / std::sqrt(14.0 / 3.0)));
  // A constant feature divides by Keras's epsilon, not by zero.
  EXPECT_FLOAT_EQ(layer.values("n/inverse_std")[1], 1e7f);
}

TEST(Adapt, PerChannelAlongTheFirstAxisOfAnImage) {
  // Samples [2, 2, 1]: rows are the channels kept; parameters [2, 1, 1].
  Layer layer({2, 1, 1}, 0);
  adapt_normalization(layer.model, floats({2, 2, 1}, {0, 2, 10, 10, 4, 6, 10, 10}), layer.store);
  EXPECT_EQ(layer.values("n/mean"), (std::vector<float>{3, 10}));
  EXPECT_FLOAT_EQ(layer.values("n/variance")[0], 5.f);  // (9 + 1 + 1 + 9) / 4
}

TEST(Adapt, LargeMeanSmallSpreadKeepsItsVariance) {
  // 100,000 samples of 1e4 ± 0.01: a naive float sum of squares loses the variance entirely.
  std::vector<float> values;
  for (int i = 0; i < 100000; ++i) values.push_back(i % 2 == 0 ? 10000.01f : 9999.99f);
  Layer layer({1}, 0);
  adapt_normalization(layer.model, floats({1}, values), layer.store);
  const double half_gap = (double(10000.01f) - double(9999.99f)) / 2;
  EXPECT_NEAR(layer.values("n/variance")[0], half_gap * half_gap, 1e-7);
  EXPECT_NEAR(layer.values("n/mean")[0], 10000.0, 1e-3);
}

}  // namespace
}  // namespace loom
