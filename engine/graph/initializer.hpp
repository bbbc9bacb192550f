#pragma once
// Parameter initializers by name, with Keras's definitions (Dense: glorot_uniform kernel,
// zeros bias). Fans follow Keras for 2-D kernels: fan_in = rows, fan_out = columns.

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/core/random.hpp"
#include "engine/core/tensor_type.hpp"

namespace loom {

struct Initializer {
  std::string name = "zeros";
  double value = 0.0;  // the fill of `constant`
  // The values of `given`: weights that came with the model (an imported ONNX file's
  // initializers), in row-major order. Shared, not copied, by every graph built from a model.
  std::shared_ptr<const std::vector<float>> values;

  static Initializer given(std::shared_ptr<const std::vector<float>> values) {
    return {.name = "given", .values = std::move(values)};
  }
};

const std::vector<std::string>& initializer_names();
bool is_initializer(const std::string& name);

void initialize(const Initializer& initializer, const Shape& shape, std::span<float> values,
                Random& random);

}  // namespace loom
