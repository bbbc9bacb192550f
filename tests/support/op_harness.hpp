#pragma once
// The one harness every op test uses (ggml's test-backend-ops and Caffe's GradientChecker
// taught this): run an op alone on given inputs, and check every input's gradient from the
// generated backward graph against central finite differences.
//
// For the gradient check the op's outputs are reduced to a scalar by a test-only op,
// loss = Σ_k Σ_i out_k[i] · r_k[i] with fixed random weights r_k, so that every output
// element's gradient matters and none cancels by symmetry.

#include <string>
#include <vector>

#include "engine/core/tensor_type.hpp"
#include "engine/graph/attributes.hpp"

namespace loom::testing {

struct OpInput {
  TensorType type;
  std::vector<float> values;   // i32 inputs hold whole numbers here
  bool differentiable = true;  // i32 inputs never are
};

struct OpUnderTest {
  std::string op;
  Attributes attributes;
  std::vector<OpInput> inputs;
  bool training = false;  // compile as part of a training graph (dropout drops)
};

struct GradientReport {
  size_t input = 0;
  double worst_absolute = 0;
  double worst_relative = 0;
  size_t failures = 0;  // elements outside the tolerance
};

struct GradientTolerance {
  double step = 1e-2;      // central differences: (L(x+h) - L(x-h)) / 2h
  double absolute = 2e-3;  // |numeric - analytic| <= absolute + relative·|numeric|
  double relative = 2e-2;
};

// The op's outputs, each flattened, computed by its compiled kernel.
std::vector<std::vector<float>> run_forward(const OpUnderTest& test);

// One report per differentiable input.
std::vector<GradientReport> check_gradients(const OpUnderTest& test,
                                            const GradientTolerance& tolerance = {});

// Deterministic test data.
std::vector<float> random_values(int64_t count, uint64_t seed, float low = -1.f, float high = 1.f);
// Values in [low, high] kept at least `gap` away from every point in `avoid` (kinks).
std::vector<float> random_values_away_from(int64_t count, uint64_t seed, float avoid, float gap);

OpInput f32_input(Shape shape, std::vector<float> values, bool differentiable = true);
OpInput i32_input(Shape shape, std::vector<float> values);

}  // namespace loom::testing
