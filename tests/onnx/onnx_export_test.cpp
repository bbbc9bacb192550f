// `trainer export --format onnx`: a trained model leaves as an ONNX file that onnx.checker
// (python3-onnx, with its shape inference) accepts, whose metadata states the preprocessing,
// and which, imported again, predicts the same values bit for bit.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <optional>

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

// uint8 "images" of `features` values in three classes (so the trained scale is 1/255), a
// Keras-style model (`layers`, on `input`) trained on them for a few epochs, and its exports.
struct ExportedRun {
  TemporaryDirectory directory;
  int features;
  std::vector<uint8_t> x;
  ExportedRun(const std::string& input, int features_, const std::string& layers)
      : features(features_) {
    std::vector<int32_t> y;
    for (int i = 0; i < kSamples; ++i) {
      for (int p = 0; p < features; ++p) x.push_back(uint8_t((i * 37 + p * 11) % 256));
      y.push_back(x[size_t(i * features)] > 128 ? (x[size_t(i * features + 1)] > 128 ? 2 : 1) : 0);
    }
    write_file(directory.file("x.npy"),
               npy_header("|u1", "(64, " + input.substr(1, input.size() - 2) + ")") + bytes_of(x));
    write_file(directory.file("y.npy"), npy_header("<i4", "(64,)") + bytes_of(y));
    write_file(directory.file("job.yaml"),
               "seed: 5\n"
               "data: {train: {format: npy, features: x.npy, targets: y.npy}}\n"
               "model:\n  input: " +
                   input + "\n  layers:\n" + layers +
                   "trainer: {optimizer: adam, loss: sparse_categorical_crossentropy, "
                   "batch_size: 16, epochs: 3}\n");
    const auto trained = run_command(trainer_path() + " train " + directory.file("job.yaml") +
                                     " --out " + directory.file("run") + " --threads 1");
    if (trained.exit_code != 0) ADD_FAILURE() << trained.err;
  }
  CommandResult export_to(const std::string& output, const std::string& flags = "") const {
    return run_command(trainer_path() + " export " + directory.file("run") + " --output " + output +
                       flags);
  }
};

// An MLP with dropout on [4, 4] inputs.
const ExportedRun& run() {
  static const ExportedRun instance("[4, 4]", 16,
                                    "    - {flatten: {}}\n"
                                    "    - {dense: 8, activation: relu}\n    - {dropout: 0.2}\n"
                                    "    - {dense: 3, activation: softmax}\n");
  return instance;
}

// A convnet on [6, 6, 2] images: every image op the exporter writes, and the channels-last
// flatten before the dense layer.
const ExportedRun& convnet_run() {
  static const ExportedRun instance(
      "[6, 6, 2]", 72,
      "    - {conv2d: 4, kernel_size: 3, padding: same, activation: relu}\n"
      "    - {batch_norm: {}}\n"
      "    - {max_pool2d: 2}\n"
      "    - {conv2d: 4, kernel_size: 2, activation: tanh}\n"
      "    - {avg_pool2d: 2, padding: same}\n"
      "    - {flatten: {}}\n"
      "    - {dense: 3, activation: softmax}\n");
  return instance;
}

// python3-onnx's checker with full shape inference on `file`, printing the ops; nullopt when
// python3-onnx is missing.
std::optional<CommandResult> python_onnx_check(const std::string& file) {
  const auto checked = run_command(
      "/usr/bin/python3 -c \"import onnx, sys; m = onnx.load(sys.argv[1]); "
      "onnx.checker.check_model(m, full_check=True); "
      "print(m.opset_import[0].version, [n.op_type for n in m.graph.node], "
      "{p.key: p.value for p in m.metadata_props}['loom.input_scale'])\" " +
      file);
  if (checked.err.find("No module named 'onnx'") != std::string::npos) return std::nullopt;
  return checked;
}

// The run's .loom model and its ONNX export imported as a config's model predict the same
// floats for the first batch.
void expect_same_predictions(const ExportedRun& run, int classes) {
  ASSERT_EQ(run.export_to(run.directory.file("same.onnx")).exit_code, 0);
  ASSERT_EQ(run.export_to(run.directory.file("same.loom")).exit_code, 0);
  Model original = Model::load(run.directory.file("same.loom"));
  std::vector<float> expected(size_t(kBatch * classes));
  original.predict(run.x.data(), kBatch, expected.data());

  // The ONNX file as a config's model; its graph scales the raw values itself.
  Session imported(
      parse_experiment("data: {train: {format: npy, features: x.npy, targets: "
                       "y.npy}, scale: 1}\nmodel: {onnx: same.onnx}\n"
                       "trainer: {loss: sparse_categorical_crossentropy, "
                       "batch_size: 16}\n",
                       "reimport.yaml", run.directory.path()));
  BoundPlan& plan = imported.plan(Purpose::inference, kBatch);
  for (int i = 0; i < kBatch * run.features; ++i) plan.images[i] = float(run.x[size_t(i)]);
  plan.plan->run();
  EXPECT_EQ(std::memcmp(plan.prediction, expected.data(), expected.size() * sizeof(float)), 0);
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(plan.prediction[i], expected[i]) << i;
}

TEST(OnnxExport, TheCheckerAndShapeInferenceOfPythonOnnxAcceptIt) {
  const auto exported = run().export_to(run().directory.file("m.onnx"));
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  const auto checked = python_onnx_check(run().directory.file("m.onnx"));
  if (!checked) GTEST_SKIP() << "python3-onnx is not installed (tools/setup.sh installs it)";
  ASSERT_EQ(checked->exit_code, 0) << checked->err;
  EXPECT_EQ(checked->out,
            "13 ['Mul', 'Flatten', 'Gemm', 'Relu', 'Dropout', 'Gemm', 'Softmax'] "
            "0.003921568859368563 (applied by the graph's first node)\n");
}

// The engine's channels-last images become ONNX's [N, C, H, W] once, after the input's scale
// (element-wise, it stays before), and the image ops run on them until the flatten, which
// reads the engine's [N, H, W, C] order.
TEST(OnnxExport, AConvnetIsWrittenChannelsFirstBetweenTwoTransposes) {
  const auto exported = convnet_run().export_to(convnet_run().directory.file("m.onnx"));
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  const auto checked = python_onnx_check(convnet_run().directory.file("m.onnx"));
  if (!checked) GTEST_SKIP() << "python3-onnx is not installed (tools/setup.sh installs it)";
  ASSERT_EQ(checked->exit_code, 0) << checked->err;
  EXPECT_EQ(checked->out,
            "13 ['Mul', 'Transpose', 'Transpose', 'Conv', 'Relu', 'BatchNormalization', "
            "'MaxPool', 'Transpose', 'Conv', 'Tanh', 'AveragePool', 'Transpose', 'Flatten', "
            "'Gemm', 'Softmax'] 0.003921568859368563 (applied by the graph's first node)\n");
}

TEST(OnnxExport, ImportedAgainItPredictsTheSameBitForBit) {
  expect_same_predictions(run(), 3);
}

TEST(OnnxExport, AConvnetImportedAgainPredictsTheSameBitForBit) {
  expect_same_predictions(convnet_run(), 3);
  // Its layout transposes cancel against the importer's: only the two kernels are
  // transposed (to ONNX's layout by the file, back by the importer), never an image.
  const ImportedModel model = import_onnx(convnet_run().directory.file("same.onnx"));
  const auto transposes = std::ranges::count_if(
      model.nodes, [](const ImportedNode& node) { return node.op == "transpose"; });
  EXPECT_EQ(transposes, 4);
}

// Two batches of matrices (attention's scores, q·kᵀ): an imported model exported again and
// imported once more computes the same values.
TEST(OnnxExport, ABatchedMatMulGoesOutAndBackIn) {
  TemporaryDirectory directory;
  OnnxBuilder b;
  b.input("q", {-1, 3, 4});
  b.input("k", {-1, 5, 4});
  auto& transpose = b.node("Transpose", {"k"}, {"kt"});
  OnnxBuilder::set(transpose, "perm", std::vector<int64_t>{0, 2, 1});
  b.node("MatMul", {"q", "kt"}, {"scores"});
  b.output("scores");
  b.write(directory.file("scores.onnx"));
  const ImportedModel model = import_onnx(directory.file("scores.onnx"));
  write_file(directory.file("again.onnx"), export_onnx(model, {}));
  const ImportedModel again = import_onnx(directory.file("again.onnx"));
  std::vector<float> q(2 * 12), k(2 * 20);
  for (size_t i = 0; i < q.size(); ++i) q[i] = float(i % 7) - 3.f;
  for (size_t i = 0; i < k.size(); ++i) k[i] = float(i % 5) * 0.5f;
  const auto first = run_imported(model, 2, {q, k});
  const auto second = run_imported(again, 2, {q, k});
  ASSERT_EQ(first.shapes[0], (Shape{2, 3, 5}));
  EXPECT_EQ(first.outputs[0], second.outputs[0]);
  // scores[0, 1, 2] = Σ_d q[0, 1, d] · k[0, 2, d]
  double expected = 0;
  for (int d = 0; d < 4; ++d) expected += double(q[size_t(4 + d)]) * double(k[size_t(8 + d)]);
  EXPECT_EQ(first.outputs[0][size_t(1 * 5 + 2)], float(expected));
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
