// Conformance on a suite no one here wrote: ONNX's own backend tests, as Debian's
// libonnx-testdata ships them (node tests, and models converted from PyTorch). Every test
// whose ops the importer maps is imported and run through the engine, and its outputs are
// compared with the expected ones within ONNX's tolerances (rtol 1e-3, atol 1e-7). The test
// prints a table per op: passed, refused (the importer named why: an attribute, a dtype, the
// batch axis), not mapped (an op the importer does not know); it fails on any wrong result.
//
// Feeding a test: its first input is the data, batch axis first. A later float input of the
// same rank and batch is data too; any other is bound as a constant (a Reshape's shape, a
// weight), as a model file's initializers are.

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "engine/core/error.hpp"
#include "engine/onnx/onnx_file.hpp"
#include "engine/onnx/onnx_import.hpp"
#include "tests/onnx/onnx_models.hpp"

namespace loom::testing {
namespace {

namespace fs = std::filesystem;

const fs::path kTestData = "/usr/share/libonnx-testdata/data";

enum class Outcome { passed, refused, not_mapped, failed };

struct CaseResult {
  std::string name;
  std::string op;  // the op it tests, or "(several)"
  Outcome outcome;
  std::string detail;
};

onnx::TensorProto read_tensor(const fs::path& file) {
  onnx::TensorProto tensor;
  std::ifstream in(file, std::ios::binary);
  if (!tensor.ParseFromIstream(&in)) throw std::runtime_error("cannot parse " + file.string());
  return tensor;
}

std::string read_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

onnx::ModelProto read_model(const fs::path& file) {
  onnx::ModelProto model;
  std::ifstream in(file, std::ios::binary);
  if (!model.ParseFromIstream(&in)) throw std::runtime_error("cannot parse " + file.string());
  return model;
}

// The graph's data inputs (not initializers), in order: input_<i>.pb feeds the i-th.
std::vector<const onnx::ValueInfoProto*> graph_inputs(const onnx::ModelProto& model) {
  std::set<std::string> initializers;
  for (const auto& tensor : model.graph().initializer()) initializers.insert(tensor.name());
  std::vector<const onnx::ValueInfoProto*> inputs;
  for (const auto& input : model.graph().input()) {
    if (!initializers.contains(input.name())) inputs.push_back(&input);
  }
  return inputs;
}

std::string tested_op(const onnx::ModelProto& model) {
  std::set<std::string> ops;
  for (const auto& node : model.graph().node()) {
    if (node.op_type() != "Constant") ops.insert(node.op_type());
  }
  if (ops.size() == 1) return *ops.begin();
  return ops.empty() ? "Constant" : "(several)";
}

// The first output element outside rtol 1e-3, atol 1e-7 of the expected, or "".
std::string compare(const std::vector<float>& actual, const Shape& actual_shape,
                    const onnx::TensorProto& expected_tensor) {
  const std::string where = "expected output";
  const Shape expected_shape = tensor_shape(expected_tensor, where);
  const std::vector<float> expected = float_values(expected_tensor, {}, where);
  if (numel(actual_shape) != numel(expected_shape) ||
      (actual_shape != expected_shape && !(expected_shape.empty() && numel(actual_shape) == 1))) {
    return "shape " + to_string(actual_shape) + ", expected " + to_string(expected_shape);
  }
  for (size_t i = 0; i < expected.size(); ++i) {
    const double a = actual[i], e = expected[i];
    if (std::isnan(e) && std::isnan(a)) continue;
    if (std::isinf(e) && a == e) continue;
    if (!(std::abs(a - e) <= 1e-7 + 1e-3 * std::abs(e))) {
      return "value " + std::to_string(i) + " is " + std::to_string(a) + ", expected " +
             std::to_string(e);
    }
  }
  return "";
}

CaseResult run_case(const fs::path& directory) {
  CaseResult result{directory.filename().string(), "", Outcome::passed, ""};
  const onnx::ModelProto model = read_model(directory / "model.onnx");
  result.op = tested_op(model);
  const auto supported = onnx_supported_ops();
  for (const auto& node : model.graph().node()) {
    if (!std::ranges::binary_search(supported, node.op_type())) {
      result.outcome = Outcome::not_mapped;
      result.detail = node.op_type();
      return result;
    }
  }
  const fs::path data = directory / "test_data_set_0";
  const auto inputs = graph_inputs(model);
  ImportOptions options;
  std::vector<std::vector<float>> values;
  Shape first;
  for (size_t i = 0; i < inputs.size(); ++i) {
    // Sequences and optionals are not tensors: the importer refuses them by their type.
    if (!inputs[i]->type().has_tensor_type()) continue;
    const fs::path file = data / ("input_" + std::to_string(i) + ".pb");
    const onnx::TensorProto tensor = read_tensor(file);
    const Shape shape = tensor_shape(tensor, file.string());
    if (i == 0) first = shape;
    const bool is_float = tensor.data_type() == onnx::TensorProto_DataType_FLOAT;
    // The first input is the data whatever its type (the importer names a type it refuses);
    // another is data when it shares the first one's batch axis. A batch of 1 says nothing
    // (a Conv's [1, 1, 3, 3] kernel beside its [1, 1, 5, 5] image): then only the same shape
    // does.
    const bool same_batch = !shape.empty() && !first.empty() && shape.size() == first.size() &&
                            shape[0] == first[0] && (first[0] != 1 || shape == first);
    const bool is_data = i == 0 || (is_float && same_batch);
    if (!is_data) {
      options.bound_inputs[inputs[i]->name()] = read_bytes(file);
    } else if (is_float) {
      values.push_back(float_values(tensor, {}, file.string()));
    }
  }
  ImportedModel imported;
  try {
    imported = import_onnx(directory / "model.onnx", options);
  } catch (const InputError& error) {
    result.outcome = Outcome::refused;
    const std::string message = error.what();
    const std::string prefix = (directory / "model.onnx").string() + ": ";
    result.detail = message.starts_with(prefix) ? message.substr(prefix.size()) : message;
    return result;
  }
  try {
    const ImportedRun run = run_imported(imported, first.at(0), values);
    for (size_t j = 0; j < run.outputs.size(); ++j) {
      const auto expected = read_tensor(data / ("output_" + std::to_string(j) + ".pb"));
      const std::string mismatch = compare(run.outputs[j], run.shapes[j], expected);
      if (!mismatch.empty()) {
        result.outcome = Outcome::failed;
        result.detail = "output " + std::to_string(j) + ": " + mismatch;
        return result;
      }
    }
  } catch (const std::exception& error) {
    result.outcome = Outcome::failed;
    result.detail = error.what();
  }
  return result;
}

struct Tally {
  int passed = 0, refused = 0, not_mapped = 0, failed = 0;
};

// Runs every test of one suite directory; prints the table and every refusal and failure.
std::vector<CaseResult> run_suite(const std::string& suite) {
  std::vector<fs::path> directories;
  for (const auto& entry : fs::directory_iterator(kTestData / suite)) {
    if (fs::exists(entry.path() / "model.onnx")) directories.push_back(entry.path());
  }
  std::ranges::sort(directories);
  std::vector<CaseResult> results;
  std::map<std::string, Tally> table;
  Tally total;
  for (const auto& directory : directories) {
    CaseResult result;
    try {
      result = run_case(directory);
    } catch (const std::exception& error) {
      result = {directory.filename().string(), "?", Outcome::failed, error.what()};
    }
    Tally& row = table[result.op];
    for (Tally* tally : {&row, &total}) {
      switch (result.outcome) {
        case Outcome::passed:
          ++tally->passed;
          break;
        case Outcome::refused:
          ++tally->refused;
          break;
        case Outcome::not_mapped:
          ++tally->not_mapped;
          break;
        case Outcome::failed:
          ++tally->failed;
          break;
      }
    }
    results.push_back(std::move(result));
  }
  std::cout << "\nONNX backend tests, " << suite << " (" << kTestData.string() << "/" << suite
            << ")\n| op | passed | refused | failed |\n| --- | --- | --- | --- |\n";
  for (const auto& [op, row] : table) {
    if (row.passed + row.refused + row.failed == 0) continue;
    std::cout << "| " << op << " | " << row.passed << " | " << row.refused << " | " << row.failed
              << " |\n";
  }
  std::cout << "| all | " << total.passed << " | " << total.refused << " | " << total.failed
            << " |\n"
            << total.not_mapped << " more tests use ops the importer does not map.\n";
  for (const auto& result : results) {
    if (result.outcome == Outcome::refused) {
      std::cout << "refused " << result.name << ": " << result.detail << "\n";
    }
    if (result.outcome == Outcome::failed) {
      std::cout << "FAILED " << result.name << ": " << result.detail << "\n";
    }
  }
  return results;
}

class OnnxConformance : public ::testing::TestWithParam<std::string> {};

TEST_P(OnnxConformance, EveryMappedTestPassesWithinOnnxTolerances) {
  if (!fs::exists(kTestData / GetParam())) {
    GTEST_SKIP() << kTestData << " is missing: tools/setup.sh installs libonnx-testdata";
  }
  int passed = 0;
  for (const CaseResult& result : run_suite(GetParam())) {
    EXPECT_NE(result.outcome, Outcome::failed) << result.name << ": " << result.detail;
    passed += result.outcome == Outcome::passed ? 1 : 0;
  }
  EXPECT_GT(passed, 0);  // a suite in which nothing ran would prove nothing
}

INSTANTIATE_TEST_SUITE_P(Suites, OnnxConformance,
                         ::testing::Values("node", "pytorch-converted", "pytorch-operator"),
                         [](const auto& suite) {
                           std::string name = suite.param;
                           std::ranges::replace(name, '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace loom::testing
