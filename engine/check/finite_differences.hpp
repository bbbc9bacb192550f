#pragma once
// One tensor's analytic gradient (float32, from the compiled backward pass) against central
// differences of the loss evaluated in double precision (ReferenceEvaluator).
//
// For each checked element x, with h = step·max(1, |x|):
//   - one-sided slopes at h and at h/100: on a smooth loss they differ by about h·|L''|, so
//     the two disagreements scale by 100;
//   - the derivative is the central difference at h/100;
//   - a corner of the loss (a relu's kink, a max-pooling tie, a clip) within h/100 leaves no
//     valid difference at all: the element is skipped and counted as a kink;
//   - a corner between h/100 and h (the slopes at h disagree more than curvature explains)
//     leaves the derivative valid, but the float32 forward may have taken the corner's other
//     branch (its rounding moves a pre-activation by more than h/100 can resolve): a mismatch
//     there is counted as a kink, a match as checked.
// The verdict: |numeric - analytic| <= absolute·scale + relative·|numeric| (+ the difference's
// own rounding), where scale is the tensor's largest |numeric|: float32 sums carry an error
// relative to the size of their terms, not of their (possibly cancelling) result.

#include <span>

#include "engine/check/gradient_check.hpp"
#include "engine/check/reference_evaluator.hpp"

namespace loom {

// `source` is a source value of the evaluator (a parameter, or an op's input), `analytic` its
// gradient, `elements` the indices checked. The evaluator ends as it started.
GradientErrors compare_with_finite_differences(ReferenceEvaluator& evaluator, ValueId source,
                                               std::span<const float> analytic,
                                               std::span<const int64_t> elements,
                                               const GradientTolerance& tolerance);

// The indices to check in a tensor of `count` elements: all when `budget` is 0 or at least
// `count`, else `budget` distinct indices drawn with `seed`, in increasing order (an evenly
// strided sample would meet a matrix's same column every time).
std::vector<int64_t> choose_elements(int64_t count, int64_t budget, uint64_t seed);

}  // namespace loom
