#pragma once
// Gradient checking, for one op and for a whole experiment (Caffe's GradientChecker and
// ggml's test-backend-ops taught this): every op test and `trainer gradcheck` use it.
//
// The analytic gradients come from the compiled training graph (float32, oneDNN, the plan's
// layouts), exactly as training computes them. The numeric ones are central differences of
// the same graph's loss evaluated in double precision through the ops' reference forwards
// (ReferenceEvaluator), so rounding does not force a large step, and a corner of the loss is
// found by comparing one-sided slopes at two steps (finite_differences.hpp) rather than
// guessed. Before any gradient is judged, the compiled forward must agree with the reference.
//
// For one op: run it alone on given inputs, and check every input's gradient. The op's
// outputs are reduced to a scalar by an internal op, loss = Σ_k Σ_i out_k[i] · r_k[i] with
// fixed random weights r_k, so that every output element's gradient matters.
//
// For an experiment: the training graph on a real batch (dropout drawing step 0's masks,
// batch normalization using the batch's statistics), each parameter's gradient checked at a
// random sample of its elements.

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
  uint64_t seed = 0;      // the probe loss's random weights
};

// How far one tensor's analytic gradient is from central differences.
struct GradientErrors {
  int64_t checked = 0;   // elements compared
  int64_t kinks = 0;     // elements skipped: a corner of the loss too close to decide
  int64_t failures = 0;  // elements outside the tolerance
  double worst_absolute = 0;
  double worst_relative = 0;
};

struct GradientReport : GradientErrors {
  size_t input = 0;
};

struct GradientTolerance {
  // Corners are looked for within step·max(1, |x|) and derivatives taken at a hundredth of it.
  double step = 1e-4;
  // |numeric - analytic| <= absolute·scale + relative·|numeric|, where scale is the largest
  // |numeric| of the tensor: float32 gradients are sums whose error follows their terms' size.
  double absolute = 1e-4;
  double relative = 1e-3;
};

// The op's outputs, each flattened, computed by its compiled kernel.
std::vector<std::vector<float>> run_forward(const OpUnderTest& test);

// One report per differentiable input, each checked at every element, or at `elements`
// randomly chosen ones (drawn with test.seed). Throws RuntimeError when the op's kernel and
// its reference forward disagree, InputError when the op has no reference.
std::vector<GradientReport> check_gradients(const OpUnderTest& test,
                                            const GradientTolerance& tolerance = {},
                                            int64_t elements = 0);

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
// first `batch` training samples, at up to `elements` elements per parameter drawn with the
// experiment's seed (which also initializes the weights).
std::vector<ParameterCheck> check_experiment_gradients(const Experiment& experiment, int64_t batch,
                                                       int64_t elements,
                                                       const GradientTolerance& tolerance);

}  // namespace loom
