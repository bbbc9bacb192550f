#pragma once
// The op tests' harness is the engine's gradient checker (engine/check/gradient_check.hpp),
// which `trainer gradcheck` uses too; tests reach it under loom::testing.

#include <oneapi/dnnl/dnnl.hpp>

#include "engine/check/gradient_check.hpp"

namespace loom::testing {

using loom::check_gradients;
using loom::f32_input;
using loom::GradientReport;
using loom::GradientTolerance;
using loom::i32_input;
using loom::OpInput;
using loom::OpUnderTest;
using loom::random_values;
using loom::random_values_away_from;
using loom::run_forward;

// Whether oneDNN has direct convolution kernels here (AVX2 and up). Below that it picks
// different formats for a convolution's forward and backward primitives, so tests of where
// reorders go (not of their results) only hold from AVX2 on.
inline bool has_direct_convolutions() {
  return dnnl::get_effective_cpu_isa() != dnnl::cpu_isa::sse41;
}

}  // namespace loom::testing
