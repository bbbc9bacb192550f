// `trainer export --format onnx`: a trained model leaves as an ONNX file that onnx.checker
// (python3-onnx, with its shape inference) accepts, whose metadata states the preprocessing,
// and which, imported again, predicts the same values bit for bit.

#include <gtest/gtest.h>

#include <cstring>

#include "engine/config/experiment.hpp"
#include "engine/onnx/onnx_import.hpp"
#include "engine/train/session.hpp"
#include "loom/model.hpp"
#include "tests/onnx/onnx_models.hpp"
#include "tests/support/npy_writer.hpp"
#include "tests/support/rejection.hpp"
#include "tests/support/run_command.hpp"

namespace loom::testing {
namespace {

constexpr int kSamples = 64, kBatch = 16;

// uint8 "images" [4, 4] in three classes (so the trained scale is 1/255), a Keras-style MLP
// with dropout trained on them for a few epochs, and its ONNX export.
struct ExportedRun {
  TemporaryDirectory directory;
  std::vector<uint8_t> x;
  ExportedRun() {
    std::vector<int32_t> y;
    for (int i = 0; i < kSamples; ++i) {
      for (int p = 0; p < 16; ++p) x.push_back(uint8_t((i * 37 + p * 11) % 256));
      y.push_back(x[size_t(i * 16)] > 128 ? (x[size_t(i * 16 + 1)] > 128 ? 2 : 1) : 0);
    }
    write_file(directory.file("x.npy"), npy_header("|u1", "(64, 4, 4)") + bytes_of(x));
    write_file(directory.file("y.npy"), npy_header("<i4", "(64,)") + bytes_of(y));
    write_file(directory.file("job.yaml"),
               "seed: 5\n"
               "data: {train: {format: npy, features: x.npy, targets: y.npy}}\n"
               "model:\n  input: [4, 4]\n  layers:\n    - {flatten: {}}\n"
               "    - {dense: 8, activation: relu}\n    - {dropout: 0.2}\n"
               "    - {dense: 3, activation: softmax}\n"
               "trainer: {optimizer: adam, loss: sparse_categorical_crossentropy, batch_size: 16, "
               "epochs: 3}\n");
    const auto trained = run_command(trainer_path() + " train " + directory.file("job.yaml") +
                                     " --out " + directory.file("run") + " --threads 1");
    if (trained.exit_code != 0) ADD_FAILURE() << trained.err;
  }
  CommandResult export_to(const std::string& output, const std::string& flags = "") const {
    return run_command(trainer_path() + " export " + directory.file("run") + " --output " + output +
                       flags);
  }
};

const ExportedRun& run() {
  static const ExportedRun instance;
  return instance;
}

TEST(OnnxExport, TheCheckerAndShapeInferenceOfPythonOnnxAcceptIt) {
  const auto exported = run().export_to(run().directory.file("m.onnx"));
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  const auto checked = run_command(
      "/usr/bin/python3 -c \"import onnx, sys; m = onnx.load(sys.argv[1]); "
      "onnx.checker.check_model(m, full_check=True); "
      "print(m.opset_import[0].version, [n.op_type for n in m.graph.node], "
      "{p.key: p.value for p in m.metadata_props}['loom.input_scale'])\" " +
      run().directory.file("m.onnx"));
  if (checked.err.find("No module named 'onnx'") != std::string::npos) {
    GTEST_SKIP() << "python3-onnx is not installed (tools/setup.sh installs it)";
  }
  ASSERT_EQ(checked.exit_code, 0) << checked.err;
  EXPECT_EQ(checked.out,
            "13 ['Mul', 'Flatten', 'Gemm', 'Relu', 'Dropout', 'Gemm', 'Softmax'] "
            "0.003921568859368563 (applied by the graph's first node)\n");
}

TEST(OnnxExport, ImportedAgainItPredictsTheSameBitForBit) {
  ASSERT_EQ(run().export_to(run().directory.file("same.onnx")).exit_code, 0);
  ASSERT_EQ(run().export_to(run().directory.file("same.loom")).exit_code, 0);
  Model original = Model::load(run().directory.file("same.loom"));
  std::vector<float> expected(size_t(kBatch * 3));
  original.predict(run().x.data(), kBatch, expected.data());

  // The ONNX file as a config's model; its graph scales the raw values itself.
  Session imported(
      parse_experiment("data: {train: {format: npy, features: x.npy, targets: "
                       "y.npy}, scale: 1}\nmodel: {onnx: same.onnx}\n"
                       "trainer: {loss: sparse_categorical_crossentropy, "
                       "batch_size: 16}\n",
                       "reimport.yaml", run().directory.path()));
  BoundPlan& plan = imported.plan(Purpose::inference, kBatch);
  for (int i = 0; i < kBatch * 16; ++i) plan.images[i] = float(run().x[size_t(i)]);
  plan.plan->run();
  EXPECT_EQ(std::memcmp(plan.prediction, expected.data(), expected.size() * sizeof(float)), 0);
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(plan.prediction[i], expected[i]) << i;
}

TEST(OnnxExport, ReplacesOnlyAnEarlierExport) {
  write_file(run().directory.file("notes.onnx"), "my notes");
  const auto refused = run().export_to(run().directory.file("notes.onnx"));
  expect_one_error_line(refused);
  EXPECT_NE(refused.err.find("not an ONNX model loom exported"), std::string::npos) << refused.err;
  ASSERT_EQ(run().export_to(run().directory.file("twice.onnx")).exit_code, 0);
  EXPECT_EQ(run().export_to(run().directory.file("twice.onnx")).exit_code, 0);
  // --format wins over the name.
  EXPECT_EQ(run().export_to(run().directory.file("model.bin"), " --format onnx").exit_code, 0);
  EXPECT_TRUE(is_exported_onnx(run().directory.file("model.bin")));
}

}  // namespace
}  // namespace loom::testing
