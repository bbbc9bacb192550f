// The option listings come from the schemas: every optimizer, schedule, metric and callback
// is listed with its options, defaults, ranges and docs.

#include "engine/config/describe_options.hpp"

#include <gtest/gtest.h>

#include "engine/config/read_callbacks.hpp"
#include "engine/core/error.hpp"
#include "engine/data/metrics.hpp"
#include "engine/optim/optimizer.hpp"

namespace loom {
namespace {

bool has_line(const std::string& text, const std::string& line_start) {
  return text.find("\n" + line_start) != std::string::npos || text.starts_with(line_start);
}

TEST(DescribeOptions, OneRowPerOptionWithTypeDefaultRangeAndDoc) {
  const std::string table = describe_options(OptimizerRegistry::global().find("rmsprop")->schema());
  EXPECT_TRUE(table.starts_with("option")) << table;
  for (const char* row : {"learning_rate    number   0.001", "rho              number   0.9",
                          "clipnorm", "centered         boolean  false"}) {
    EXPECT_TRUE(has_line(table, row)) << row << "\n" << table;
  }
  EXPECT_NE(table.find("[0, 1]"), std::string::npos) << table;
  EXPECT_NE(table.find("off"), std::string::npos) << table;  // clipnorm's default
  EXPECT_NE(table.find("the discount of the squared gradients' average"), std::string::npos);
}

TEST(DescribeOptions, ExcludedBoundsAndChoicesAreShown) {
  const std::string lion = describe_options(OptimizerRegistry::global().find("lion")->schema());
  EXPECT_NE(lion.find("(0, 1]"), std::string::npos) << lion;
  const std::string plateau = describe_options(find_schedule("reduce_on_plateau")->options);
  EXPECT_NE(plateau.find("auto, max, min"), std::string::npos) << plateau;
  EXPECT_NE(plateau.find("required"), std::string::npos) << plateau;
}

TEST(DescribeOptions, ListsEveryOptimizerScheduleMetricAndCallback) {
  const std::string all = describe_all_options();
  for (const std::string& name : OptimizerRegistry::global().names()) {
    EXPECT_TRUE(has_line(all, "  " + name + "\n")) << name;
  }
  for (const std::string& name : schedule_names()) EXPECT_TRUE(has_line(all, "  " + name + "\n"));
  for (const std::string& name : metric_names())
    EXPECT_NE(all.find("  " + name), std::string::npos);
  for (const CallbackDefinition& callback : callback_definitions()) {
    EXPECT_TRUE(has_line(all, "  " + callback.name + "\n")) << callback.name;
  }
  EXPECT_NE(all.find("  accuracy (no options)"), std::string::npos) << all;
}

TEST(DescribeOptions, OneNameGivesItsHeadingAndTable) {
  const std::string rmsprop = describe_options_of("rmsprop");
  EXPECT_EQ(rmsprop.find("optimizers ("), 0u) << rmsprop;
  EXPECT_NE(rmsprop.find("  rmsprop\n"), std::string::npos) << rmsprop;
  EXPECT_NE(rmsprop.find("rho"), std::string::npos) << rmsprop;
  EXPECT_EQ(rmsprop.find("  adam\n"), std::string::npos) << rmsprop;
  EXPECT_NE(describe_options_of("early_stopping").find("patience"), std::string::npos);
}

TEST(DescribeOptions, AnUnknownNameListsTheKnownOnes) {
  try {
    describe_options_of("rmsprob");
    FAIL() << "expected an InputError";
  } catch (const InputError& error) {
    const std::string what = error.what();
    EXPECT_NE(what.find("unknown optimizer, schedule, metric, callback or plugin layer 'rmsprob'"),
              std::string::npos)
        << what;
    EXPECT_NE(what.find("rmsprop"), std::string::npos) << what;
    EXPECT_NE(what.find("cosine_decay"), std::string::npos) << what;
  }
}

}  // namespace
}  // namespace loom
