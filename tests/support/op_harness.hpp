#pragma once
// The op tests' harness is the engine's gradient checker (engine/check/gradient_check.hpp),
// which `trainer gradcheck` uses too; tests reach it under loom::testing.

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

}  // namespace loom::testing
