#include "engine/check/finite_differences.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/core/random.hpp"

namespace loom {

namespace {

// How far apart the one-sided slopes of a smooth loss may be, beyond curvature, as a share
// of the slope.
constexpr double kSlopeAgreement = 1e-3;
// A double-precision loss of moderate size is exact to about this relative error (its sums
// run over at most millions of terms); divided by the step it bounds a difference's noise.
constexpr double kLossRounding = 1e-13;
constexpr double kFineStepRatio = 100;

struct Slopes {
  double forward = 0, backward = 0;
  double disagreement() const { return std::abs(forward - backward); }
  double central() const { return (forward + backward) / 2; }
  double size() const { return std::max(std::abs(forward), std::abs(backward)); }
};

struct Derivative {
  double value = 0;
  double noise = 0;          // the difference's rounding error
  bool valid = false;        // no corner within the fine step
  bool near_corner = false;  // a corner between the fine and the coarse step
};

class ElementDifferentiator {
 public:
  ElementDifferentiator(ReferenceEvaluator& evaluator, ValueId source, double center)
      : evaluator_(evaluator), source_(source), x_(evaluator.source(source)), center_(center) {}

  Derivative differentiate(int64_t index, double step) {
    const double original = x_[size_t(index)];
    const double coarse = step * std::max(1.0, std::abs(original));
    const double fine = coarse / kFineStepRatio;
    const Slopes wide = slopes(index, coarse);
    const Slopes narrow = slopes(index, fine);
    Derivative derivative;
    derivative.value = narrow.central();
    derivative.noise = noise(fine);
    // On a smooth loss the disagreement is about step·|L''|: the fine step's, scaled up,
    // predicts the coarse step's. More than twice that (plus the slopes' own tolerance)
    // is a corner.
    derivative.valid = narrow.disagreement() <= kSlopeAgreement * narrow.size() + noise(fine);
    const double curvature = narrow.disagreement() * kFineStepRatio;
    derivative.near_corner =
        wide.disagreement() > 2 * curvature + kSlopeAgreement * wide.size() + noise(coarse);
    return derivative;
  }

  // Puts the tensor's last perturbed element back into every value downstream of it.
  void restore() { evaluator_.evaluate_after_change(source_); }

 private:
  Slopes slopes(int64_t index, double step) {
    double& x = x_[size_t(index)];
    const double original = x;
    x = original + step;
    const double up = evaluator_.evaluate_after_change(source_);
    x = original - step;
    const double down = evaluator_.evaluate_after_change(source_);
    x = original;
    // The actual steps, as represented: x ± step rounds.
    return {(up - center_) / ((original + step) - original),
            (center_ - down) / (original - (original - step))};
  }

  double noise(double step) const {
    return kLossRounding * std::max(1.0, std::abs(center_)) / step;
  }

  ReferenceEvaluator& evaluator_;
  ValueId source_;
  std::span<double> x_;
  double center_;
};

}  // namespace

GradientErrors compare_with_finite_differences(ReferenceEvaluator& evaluator, ValueId source,
                                               std::span<const float> analytic,
                                               std::span<const int64_t> elements,
                                               const GradientTolerance& tolerance) {
  const double center = evaluator.evaluate_after_change(source);
  ElementDifferentiator differentiator(evaluator, source, center);
  std::vector<Derivative> derivatives;
  derivatives.reserve(elements.size());
  for (int64_t index : elements) {
    derivatives.push_back(differentiator.differentiate(index, tolerance.step));
  }
  differentiator.restore();

  double scale = 0;
  for (const Derivative& d : derivatives) {
    if (d.valid) scale = std::max(scale, std::abs(d.value));
  }
  GradientErrors errors;
  for (size_t k = 0; k < elements.size(); ++k) {
    const Derivative& d = derivatives[k];
    if (!d.valid) {
      ++errors.kinks;
      continue;
    }
    const double error = std::abs(d.value - double(analytic[size_t(elements[k])]));
    const double allowed =
        tolerance.absolute * scale + tolerance.relative * std::abs(d.value) + d.noise;
    if (error > allowed && d.near_corner) {
      ++errors.kinks;
      continue;
    }
    ++errors.checked;
    errors.worst_absolute = std::max(errors.worst_absolute, error);
    // Relative to the element, or to the absolute tolerance for elements below it.
    errors.worst_relative =
        std::max(errors.worst_relative,
                 error / std::max({std::abs(d.value), tolerance.absolute * scale, 1e-300}));
    if (error > allowed) ++errors.failures;
  }
  return errors;
}

std::vector<int64_t> choose_elements(int64_t count, int64_t budget, uint64_t seed) {
  std::vector<int64_t> all(size_t(std::max<int64_t>(count, 0)));
  std::iota(all.begin(), all.end(), 0);
  if (budget <= 0 || budget >= count) return all;
  // A partial Fisher-Yates shuffle: the first `budget` entries are a uniform sample.
  Random random(seed);
  for (int64_t i = 0; i < budget; ++i) {
    std::swap(all[size_t(i)], all[size_t(i + int64_t(random.below(uint64_t(count - i))))]);
  }
  all.resize(size_t(budget));
  std::ranges::sort(all);
  return all;
}

}  // namespace loom
