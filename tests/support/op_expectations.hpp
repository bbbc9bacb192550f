#pragma once
// The assertions every op test makes: outputs close to a naive loop, and every
// differentiable input's gradient within the checker's tolerance, with inputs chosen clear of
// the op's corners (no kinks) so that every element is really compared.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "tests/support/op_harness.hpp"

namespace loom::testing {

inline void expect_near_all(const std::vector<float>& actual, const std::vector<float>& expected,
                            float tolerance = 1e-5f) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    ASSERT_NEAR(actual[i], expected[i], tolerance * std::max(1.f, std::abs(expected[i])))
        << "at element " << i;
  }
}

inline void expect_gradients_pass(const OpUnderTest& test,
                                  const GradientTolerance& tolerance = {}) {
  const std::vector<GradientReport> reports = check_gradients(test, tolerance);
  const auto differentiable =
      std::ranges::count_if(test.inputs, [](const OpInput& input) { return input.differentiable; });
  ASSERT_EQ(std::ssize(reports), differentiable);
  for (const GradientReport& report : reports) {
    EXPECT_EQ(report.kinks, 0) << test.op << " input " << report.input
                               << ": inputs must stay clear of the op's corners";
    EXPECT_GT(report.checked, 0);
    EXPECT_EQ(report.failures, 0) << test.op << " input " << report.input
                                  << ": worst absolute error " << report.worst_absolute
                                  << ", worst relative " << report.worst_relative;
  }
}

}  // namespace loom::testing
