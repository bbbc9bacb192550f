#include "engine/graph/initializer.hpp"

#include <algorithm>
#include <cmath>

#include "engine/core/error.hpp"

namespace loom {

namespace {

struct Fans {
  double in;
  double out;
};

// Keras: a 1-D shape has fan_in = fan_out = its size; higher ranks multiply the leading
// (receptive field) dimensions into both fans.
Fans compute_fans(const Shape& shape) {
  if (shape.empty()) return {1, 1};
  if (shape.size() == 1) return {double(shape[0]), double(shape[0])};
  double receptive_field = 1;
  for (size_t i = 0; i + 2 < shape.size(); ++i) receptive_field *= double(shape[i]);
  return {double(shape[shape.size() - 2]) * receptive_field,
          double(shape[shape.size() - 1]) * receptive_field};
}

void fill_uniform(std::span<float> values, double limit, Random& random) {
  for (float& v : values) v = static_cast<float>(random.uniform(-limit, limit));
}

// Keras's *_normal initializers draw from a normal truncated at two standard deviations,
// rescaled by 0.87962566103423978 so that the truncated variance matches the target.
void fill_truncated_normal(std::span<float> values, double stddev, Random& random) {
  const double scale = stddev / 0.87962566103423978;
  for (float& v : values) {
    double draw = random.normal();
    while (std::abs(draw) > 2.0) draw = random.normal();
    v = static_cast<float>(draw * scale);
  }
}

}  // namespace

const std::vector<std::string>& initializer_names() {
  static const std::vector<std::string> names = {"constant",      "glorot_normal", "glorot_uniform",
                                                 "he_normal",     "he_uniform",    "lecun_normal",
                                                 "lecun_uniform", "ones",          "zeros"};
  return names;
}

bool is_initializer(const std::string& name) {
  const auto& names = initializer_names();
  return std::find(names.begin(), names.end(), name) != names.end();
}

void initialize(const Initializer& initializer, const Shape& shape, std::span<float> values,
                Random& random) {
  const Fans fans = compute_fans(shape);
  const std::string& name = initializer.name;
  if (name == "zeros") {
    std::fill(values.begin(), values.end(), 0.0f);
  } else if (name == "ones") {
    std::fill(values.begin(), values.end(), 1.0f);
  } else if (name == "constant") {
    std::fill(values.begin(), values.end(), static_cast<float>(initializer.value));
  } else if (name == "given") {
    if (!initializer.values || initializer.values->size() != values.size()) {
      throw InputError("given initial values: " +
                       std::to_string(initializer.values ? initializer.values->size() : 0) +
                       " values for a parameter of shape " + to_string(shape));
    }
    std::copy(initializer.values->begin(), initializer.values->end(), values.begin());
  } else if (name == "glorot_uniform") {
    fill_uniform(values, std::sqrt(6.0 / (fans.in + fans.out)), random);
  } else if (name == "glorot_normal") {
    fill_truncated_normal(values, std::sqrt(2.0 / (fans.in + fans.out)), random);
  } else if (name == "he_uniform") {
    fill_uniform(values, std::sqrt(6.0 / fans.in), random);
  } else if (name == "he_normal") {
    fill_truncated_normal(values, std::sqrt(2.0 / fans.in), random);
  } else if (name == "lecun_uniform") {
    fill_uniform(values, std::sqrt(3.0 / fans.in), random);
  } else if (name == "lecun_normal") {
    fill_truncated_normal(values, std::sqrt(1.0 / fans.in), random);
  } else {
    throw InputError("unknown initializer '" + name + "'");
  }
}

}  // namespace loom
