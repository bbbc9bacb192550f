#pragma once
// Every built-in op that has a gradient, as gradient-check cases with seeded random inputs,
// at a small size and at a large one (inputs up to 128×128). The gradient checker's own tests
// run them over many seeds (it must never fail a correct op) and against planted wrong
// gradients (it must always fail those).

#include <functional>
#include <string>
#include <vector>

#include "engine/check/gradient_check.hpp"

namespace loom::testing {

struct GradientCase {
  std::string label;  // the op and what varies, e.g. "conv2d strides 2 same"
  // The case for a seed; `large` picks the large size.
  std::function<OpUnderTest(uint64_t seed, bool large)> make;
};

std::vector<GradientCase> gradient_cases();

}  // namespace loom::testing
