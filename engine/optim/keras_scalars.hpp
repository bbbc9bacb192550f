#pragma once
// The scalars of an update formed as Keras 3 forms them. Their precision is part of the
// formula: Keras writes `1 - self.beta_2` in Python, so 1 - 0.999 is taken in double and cast
// to float32 once (0.001f), while 1 - 0.999f in float is 0.00099998713, a velocity 1.3e-5 too
// small. Where Keras casts a hyperparameter to the variable's dtype before the arithmetic
// (Adam's `ops.power(ops.cast(beta_1, dtype), t)`, Nadam's and Lion's `1 - beta`), the
// arithmetic starts from the float32 value instead; each optimizer's file says which.

#include <cmath>
#include <cstdint>

namespace loom {

// `1 - value` written in Python: double arithmetic, one cast.
inline float keras_one_minus(double value) {
  return static_cast<float>(1.0 - value);
}

// `ops.power(ops.cast(beta, float32), t)`: the float32 beta raised to the step, rounded once
// (the correctly rounded float32 power Keras computes).
inline float keras_float_power(double beta, int64_t t) {
  return static_cast<float>(std::pow(double(static_cast<float>(beta)), double(t)));
}

}  // namespace loom
