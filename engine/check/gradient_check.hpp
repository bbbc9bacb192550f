#pragma once
// Gradient checking, for one op and for a whole experiment (Caffe's GradientChecker and
// ggml's test-backend-ops taught this): every op test and `trainer gradcheck` use it.
//
// For one op: run it alone on given inputs, and check every input's gradient from the
// generated backward graph against central finite differences. The op's outputs are reduced
// to a scalar by an internal op, loss = Σ_k Σ_i out_k[i] · r_k[i] with fixed random weights
// r_k, so that every output element's gradient matters and none cancels by symmetry.
//
// For an experiment: the training graph on a real batch, each parameter's gradient checked
// at a sample of its elements against central differences of the loss.

#include <string>
#include <vector>

#include "engine/core/tensor_type.hpp"
#include "engine/graph/attributes.hpp"

namespace loom {

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

// How far one tensor's analytic gradient is from central differences.
struct GradientErrors {
  int64_t checked = 0;   // elements compared
  int64_t kinks = 0;     // elements skipped: the loss bends there (a relu's corner) within a step
  int64_t failures = 0;  // elements outside the tolerance
  double worst_absolute = 0;
  double worst_relative = 0;
};

struct GradientReport : GradientErrors {
  size_t input = 0;
};

struct GradientTolerance {
  double step = 1e-2;      // central differences: (L(x+h) - L(x-h)) / 2h
  double absolute = 2e-3;  // |numeric - analytic| <= absolute + relative·|numeric|
  double relative = 2e-2;
};

// The op's outputs, each flattened, computed by its compiled kernel.
std::vector<std::vector<float>> run_forward(const OpUnderTest& test);

// One report per differentiable input. Like Caffe's checker, an element where the one-sided
// differences disagree (the loss has a corner within the step) is skipped and counted as a
// kink, since no finite difference is valid there.
std::vector<GradientReport> check_gradients(const OpUnderTest& test,
                                            const GradientTolerance& tolerance = {});

// Deterministic test data.
std::vector<float> random_values(int64_t count, uint64_t seed, float low = -1.f, float high = 1.f);
// Values in [low, high] kept at least `gap` away from every point in `avoid` (kinks).
std::vector<float> random_values_away_from(int64_t count, uint64_t seed, float avoid, float gap);

OpInput f32_input(Shape shape, std::vector<float> values, bool differentiable = true);
OpInput i32_input(Shape shape, std::vector<float> values);

struct ParameterCheck : GradientErrors {
  std::string parameter;
  Shape shape;
};

struct Experiment;

// Checks the gradient of every trainable parameter of the experiment's training graph on its
// first `batch` training samples, at up to `elements` evenly spread elements per parameter.
// Dropout is compiled as the identity, so the loss is a deterministic function of the weights.
std::vector<ParameterCheck> check_experiment_gradients(const Experiment& experiment, int64_t batch,
                                                       int64_t elements,
                                                       const GradientTolerance& tolerance);

}  // namespace loom
