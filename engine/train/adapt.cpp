#include "engine/train/adapt.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

namespace loom {

namespace {

constexpr double kEpsilon = 1e-7;  // Keras's backend.epsilon()

struct Statistics {
  std::vector<double> mean, variance;
};

// Per index along `axis` of the sample shape, over every sample and every other index.
Statistics statistics_along(const Dataset& train, int64_t axis) {
  const Shape& shape = train.sample_shape();
  int64_t inner = 1;
  for (size_t d = size_t(axis) + 1; d < shape.size(); ++d) inner *= shape[d];
  const int64_t channels = shape[size_t(axis)];
  const auto n = static_cast<size_t>(channels);
  std::vector<double> shift(n, 0.0), sum(n, 0.0), squares(n, 0.0);
  std::vector<int64_t> count(n, 0);
  std::vector<float> sample(size_t(train.sample_size()));
  for (int64_t s = 0; s < train.size(); ++s) {
    train.features_of(s, sample.data());
    for (int64_t e = 0; e < train.sample_size(); ++e) {
      const auto c = size_t((e / inner) % channels);
      if (s == 0 && count[c] == 0) shift[c] = sample[size_t(e)];
      const double x = double(sample[size_t(e)]) - shift[c];
      sum[c] += x;
      squares[c] += x * x;
      ++count[c];
    }
  }
  Statistics result;
  for (size_t c = 0; c < size_t(channels); ++c) {
    const double samples = double(std::max<int64_t>(count[c], 1));
    const double centered = sum[c] / samples;
    result.mean.push_back(shift[c] + centered);
    result.variance.push_back(std::max(0.0, squares[c] / samples - centered * centered));
  }
  return result;
}

}  // namespace

void adapt_normalization(const ModelSpec& model, const Dataset& train, ParameterStore& parameters) {
  std::map<int64_t, Statistics> by_axis;
  for (const ParameterSpec& parameter : model.parameters) {
    if (parameter.adapt == ParameterSpec::Adapt::none) continue;
    auto found = by_axis.find(parameter.adapt_axis);
    if (found == by_axis.end()) {
      found = by_axis.emplace(parameter.adapt_axis, statistics_along(train, parameter.adapt_axis))
                  .first;
    }
    const Statistics& statistics = found->second;
    const std::span<float> values = parameters.at(parameter.name);
    for (size_t c = 0; c < values.size(); ++c) {
      const double variance = statistics.variance[c];
      switch (parameter.adapt) {
        case ParameterSpec::Adapt::mean:
          values[c] = float(statistics.mean[c]);
          break;
        case ParameterSpec::Adapt::variance:
          values[c] = float(variance);
          break;
        case ParameterSpec::Adapt::inverse_std:
          values[c] = float(1.0 / std::max(std::sqrt(variance), kEpsilon));
          break;
        case ParameterSpec::Adapt::none:
          break;
      }
    }
  }
}

}  // namespace loom
