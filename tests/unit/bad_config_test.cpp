// Every file in tests/bad_configs/ has exactly one defect and says on its first line what the
// trainer must report:
//   # expect: <line>:<col>: <text>   the error is at that position of that file
//   # expect: <text>                 the error has no position (e.g. found while reading data)
// The trainer is run as a user runs it, so this checks the whole contract for bad input: exit
// code 2, one line "error: ..." on stderr naming the place, and nothing written to disk.

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "engine/config/build_graph.hpp"
#include "engine/config/experiment.hpp"
#include "engine/graph/op.hpp"
#include "tests/support/rejection.hpp"
#include "tests/support/run_command.hpp"

namespace loom {
namespace {

namespace fs = std::filesystem;
using namespace testing;  // the trainer runner, temporary directories, the rejection contract

// Every bad config reads its data from here; without it they would all fail on data.root
// instead of on their own defect, which proves nothing.
constexpr const char* kDataRoot = "/usr/share/datasets/fashion-mnist";

struct Expectation {
  bool has_position = false;
  int line = 0;
  int column = 0;
  std::string text;
};

Expectation read_expectation(const fs::path& file) {
  std::ifstream in(file);
  std::string first;
  std::getline(in, first);
  const std::string prefix = "# expect: ";
  if (!first.starts_with(prefix)) {
    ADD_FAILURE() << file << ": the first line must be '# expect: [<line>:<col>: ]<text>'";
    return {};
  }
  const std::string rest = first.substr(prefix.size());
  Expectation expectation;
  static const std::regex positioned(R"(^(\d+):(\d+): (.+)$)");
  if (std::smatch match; std::regex_match(rest, match, positioned)) {
    expectation.has_position = true;
    expectation.line = std::stoi(match[1].str());
    expectation.column = std::stoi(match[2].str());
    expectation.text = match[3].str();
  } else {
    expectation.text = rest;
  }
  return expectation;
}

std::vector<fs::path> bad_configs() {
  std::vector<fs::path> files;
  const fs::path directory = source_path("tests/bad_configs");
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(directory, error)) {
    if (entry.is_regular_file() && entry.path().extension() == ".yaml") {
      files.push_back(entry.path());
    }
  }
  // Sorted so test names and order do not depend on the file system.
  std::ranges::sort(files);
  return files;
}

class BadConfigTest : public ::testing::TestWithParam<fs::path> {};

TEST_P(BadConfigTest, IsRejectedWithOneMessageAtItsPosition) {
  if (!fs::is_directory(kDataRoot)) GTEST_SKIP() << kDataRoot << " is not installed";
  const std::string file = GetParam().string();
  const Expectation expected = read_expectation(GetParam());
  ASSERT_FALSE(expected.text.empty());

  TemporaryDirectory scratch;
  const std::string run = scratch.file("run");
  const auto result =
      run_command(quoted(trainer_path()) + " train " + quoted(file) + " --out " + quoted(run));

  EXPECT_FALSE(fs::exists(run)) << "the run directory was written for a rejected config";
  if (!expect_one_error_line(result)) return;
  if (expected.has_position) {
    const std::string place =
        file + ":" + std::to_string(expected.line) + ":" + std::to_string(expected.column) + ": ";
    EXPECT_NE(result.err.find(place), std::string::npos)
        << "expected the position " << place << "\nstderr: " << result.err;
  } else {
    EXPECT_NE(result.err.find(file), std::string::npos)
        << "expected the file name\nstderr: " << result.err;
  }
  EXPECT_NE(result.err.find(expected.text), std::string::npos)
      << "expected: " << expected.text << "\nstderr:   " << result.err;
}

std::string test_name(const ::testing::TestParamInfo<fs::path>& info) {
  std::string name = info.param.stem().string();
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Corpus, BadConfigTest, ::testing::ValuesIn(bad_configs()), test_name);

// A corpus that silently shrank (a moved directory, a bad glob) would make the suite above
// pass by testing nothing.
TEST(BadConfigCorpus, HasEnoughFilesEachWithAnExpectation) {
  const std::vector<fs::path> files = bad_configs();
  EXPECT_GE(files.size(), 64u);
  for (const fs::path& file : files) {
    EXPECT_FALSE(read_expectation(file).text.empty()) << file;
  }
}

// ---- flags ---------------------------------------------------------------------------------

TEST(TrainerFlags, SetWithAValueOfTheWrongTypeNamesTheKey) {
  if (!fs::is_directory(kDataRoot)) GTEST_SKIP() << kDataRoot << " is not installed";
  const std::string config = source_path("configs/fashion_mnist_mlp.yaml");
  TemporaryDirectory scratch;
  const std::string run = scratch.file("run");
  const auto result = run_command(quoted(trainer_path()) + " train " + quoted(config) +
                                  " --set trainer.epochs=zero --out " + quoted(run));
  expect_one_error_line(result);
  EXPECT_NE(result.err.find("trainer.epochs"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("expected an integer"), std::string::npos) << result.err;
  // The value came from the command line, not from the file: a line:col into the file
  // (where the config has a comment) would send the user to the wrong place.
  EXPECT_EQ(result.err.find(config + ":1:1:"), std::string::npos)
      << "the --set value is reported at a position in the config file: " << result.err;
  EXPECT_FALSE(fs::exists(run));
}

TEST(TrainerFlags, MissingConfigFileIsNamed) {
  TemporaryDirectory scratch;
  const std::string missing = scratch.file("no_such_experiment.yaml");
  const std::string run = scratch.file("run");
  const auto result =
      run_command(quoted(trainer_path()) + " train " + quoted(missing) + " --out " + quoted(run));
  expect_one_error_line(result);
  EXPECT_NE(result.err.find(missing), std::string::npos) << result.err;
  EXPECT_FALSE(fs::exists(run));
}

TEST(TrainerFlags, UnknownFlagIsBadInput) {
  TemporaryDirectory scratch;
  const std::string run = scratch.file("run");
  const auto result = run_command(quoted(trainer_path()) + " train " +
                                  quoted(source_path("configs/fashion_mnist_mlp.yaml")) +
                                  " --no-such-flag --out " + quoted(run));
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("--no-such-flag"), std::string::npos) << result.err;
  EXPECT_FALSE(fs::exists(run));
}

// ---- layers sugar vs explicit graph --------------------------------------------------------

// The explicit-graph config writes out by hand what `layers:` expands to, so both must give
// the same training graph up to node names: same ops in the same order, same shapes.
TEST(ExplicitGraph, MatchesTheLayersForm) {
  if (!fs::is_directory(kDataRoot)) GTEST_SKIP() << kDataRoot << " is not installed";
  const Experiment layers = load_experiment(source_path("configs/fashion_mnist_mlp.yaml"));
  const Experiment explicit_graph =
      load_experiment(source_path("configs/fashion_mnist_mlp_graph.yaml"));
  ASSERT_EQ(layers.trainer.batch_size, explicit_graph.trainer.batch_size);
  const int64_t batch = layers.trainer.batch_size;
  const Graph a = build_training_graph(layers, batch);
  const Graph b = build_training_graph(explicit_graph, batch);

  auto signature = [](const Graph& graph) {
    std::vector<std::string> lines;
    for (const Node& node : graph.nodes()) {
      std::string line = std::string(node.op->name()) + (node.backward ? " (backward)" : "");
      for (const ValueId output : node.outputs) line += " " + to_string(graph.value(output).type);
      lines.push_back(line);
    }
    return lines;
  };
  EXPECT_FALSE(a.nodes().empty());
  EXPECT_EQ(signature(a), signature(b));

  auto parameter_shapes = [](const Graph& graph) {
    std::vector<std::string> shapes;
    for (const ValueId id : graph.parameters()) shapes.push_back(to_string(graph.value(id).type));
    return shapes;
  };
  EXPECT_EQ(parameter_shapes(a), parameter_shapes(b));
}

}  // namespace
}  // namespace loom
