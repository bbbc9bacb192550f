// The C++ inference API (include/loom/model.hpp) on a model exported here: what it describes,
// predictions equal to the trainer's for uint8 and float samples, one at a time or in batches,
// no allocation on the one-sample path, and its errors.

#include <gtest/gtest.h>

#include <fstream>
#include <loom/model.hpp>
#include <sstream>

#include "tests/support/allocation_counter.hpp"
#include "tests/support/exported_model.hpp"

namespace loom::testing {
namespace {

struct Exported {
  ExportedRun run;
  Exported() {
    const CommandResult exported = run.trainer("export " + run.run + " --output " + run.model);
    EXPECT_EQ(exported.exit_code, 0) << exported.err;
  }
};

const Exported& exported() {
  static const Exported instance;
  return instance;
}

// `trainer predict`'s probabilities, one row of floats per sample.
std::vector<std::vector<float>> trainer_predictions(const std::string& input) {
  const CommandResult result =
      exported().run.trainer("predict " + exported().run.model + " --input " + input);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  std::vector<std::vector<float>> rows;
  std::stringstream lines(result.out);
  std::string line;
  std::getline(lines, line);  // the header
  while (std::getline(lines, line)) {
    std::stringstream cells(line);
    std::string cell;
    std::getline(cells, cell, ',');  // the index
    std::vector<float> row;
    for (int c = 0; c < 2 && std::getline(cells, cell, ','); ++c) row.push_back(std::stof(cell));
    rows.push_back(row);
  }
  return rows;
}

TEST(InferenceApi, DescribesTheModel) {
  const Model model = Model::load(exported().run.model);
  EXPECT_EQ(model.name(), "tiny");
  EXPECT_EQ(model.input_shape(), (std::vector<int64_t>{4, 4, 1}));
  EXPECT_EQ(model.input_size(), 16);
  EXPECT_EQ(model.output_size(), 2);
  EXPECT_EQ(model.outputs(), Model::Outputs::class_probabilities);
  EXPECT_TRUE(model.class_names().empty());
  EXPECT_EQ(model.class_name(1), "1");
  EXPECT_EQ(Model::version(), LOOM_VERSION);
}

TEST(InferenceApi, PredictsAsTheTrainerDoes) {
  Model model = Model::load(exported().run.model);
  const std::vector<uint8_t>& images = exported().run.images;
  const auto expected = trainer_predictions(exported().run.directory.file("u8.npy"));
  ASSERT_EQ(expected.size(), 96u);
  // All 96 at once (batches of the config's 16), one at a time from uint8, and from floats.
  std::vector<float> batch(96 * 2), single(2), from_floats(2);
  model.predict(images.data(), 96, batch.data());
  for (int64_t i = 0; i < 96; ++i) {
    model.predict(images.data() + i * 16, 1, single.data());
    const std::vector<float> floats(images.begin() + i * 16, images.begin() + (i + 1) * 16);
    model.predict(floats.data(), 1, from_floats.data());
    for (int64_t c = 0; c < 2; ++c) {
      // The trainer prints 6 significant digits.
      EXPECT_NEAR(batch[size_t(i * 2 + c)], expected[size_t(i)][size_t(c)], 1e-5) << i;
      EXPECT_EQ(single[size_t(c)], from_floats[size_t(c)]) << i;
      EXPECT_NEAR(single[size_t(c)], batch[size_t(i * 2 + c)], 1e-6) << i;
    }
    EXPECT_EQ(model.predicted_class(single.data()), exported().run.labels[size_t(i)]) << i;
  }
}

// The API's own code allocates nothing per sample; oneDNN 2.6's execute does, inside
// (README, Architecture), and the count is printed.
TEST(InferenceApi, OneSampleAllocatesNothing) {
  Model model = Model::load(exported().run.model);
  std::vector<float> outputs(2);
  const uint8_t* sample = exported().run.images.data();
  model.predict(sample, 1, outputs.data());
  const AllocationCount count = count_allocations([&] {
    for (int i = 0; i < 100; ++i) model.predict(sample, 1, outputs.data());
  });
  EXPECT_EQ(count.engine, 0) << "heap allocations outside oneDNN in 100 predictions";
  std::printf("oneDNN's own allocations per prediction: %.1f\n", double(count.onednn) / 100.0);
}

TEST(InferenceApi, ErrorsAreModelErrorsWithTheReason) {
  const auto message = [](const auto& attempt) {
    try {
      attempt();
    } catch (const ModelError& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message([] { Model::load("/nonexistent/model.loom"); }).find("/nonexistent/model.loom"),
            std::string::npos);
  EXPECT_NE(message([] {
              Model::load(exported().run.run + "/last.safetensors");
            }).find("a training checkpoint, not a model file"),
            std::string::npos);
  Model model = Model::load(exported().run.model);
  EXPECT_NE(message([&] {
              model.predict(static_cast<const float*>(nullptr), 1, nullptr);
            }).find("non-null"),
            std::string::npos);
  EXPECT_NE(message([] { Model::set_threads(0); }).find("at least 1"), std::string::npos);
}

}  // namespace
}  // namespace loom::testing
