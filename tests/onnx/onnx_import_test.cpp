// The ONNX importer on models the test writes: what a PyTorch MLP becomes, that it predicts
// what a plain loop computes from the same weights, the batch axis followed through the
// graph, and one clear line for each thing the engine cannot map or read.

#include "engine/onnx/onnx_import.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "engine/core/random.hpp"
#include "tests/onnx/onnx_models.hpp"
#include "tests/support/rejection.hpp"
#include "tests/support/run_command.hpp"

namespace loom::testing {
namespace {

std::vector<float> random_inputs(int64_t count, uint64_t seed) {
  Random random(seed);
  std::vector<float> values(static_cast<size_t>(count));
  for (float& value : values) value = float(random.uniform() * 2.0 - 1.0);
  return values;
}

TEST(OnnxImport, PytorchMlpBecomesMatmulBiasReluSoftmax) {
  TemporaryDirectory directory;
  const auto weights = random_mlp(6, 5, 4, 1);
  write_mlp(weights, directory.file("mlp.onnx"));
  const ImportedModel model = import_onnx(directory.file("mlp.onnx"));
  ASSERT_EQ(model.inputs.size(), 1u);
  EXPECT_EQ(model.inputs[0].shape, (Shape{1, 6}));  // a symbolic batch stands as 1
  std::vector<std::string> ops;
  for (const auto& node : model.nodes) ops.push_back(node.op);
  EXPECT_EQ(ops, (std::vector<std::string>{"matmul", "bias_add", "relu", "matmul", "bias_add",
                                           "softmax"}));
  ASSERT_EQ(model.parameters.size(), 4u);
  EXPECT_EQ(model.parameters[0].name, "fc1.weight");
  EXPECT_EQ(model.parameters[0].shape, (Shape{5, 6}));  // read transposed, not copied
  EXPECT_TRUE(model.parameters[0].trainable);
  EXPECT_EQ(model.outputs, (std::vector<std::string>{"output"}));
  EXPECT_EQ(model.opset, 13);
}

TEST(OnnxImport, PredictsWhatAPlainLoopComputesAtAnyBatch) {
  TemporaryDirectory directory;
  const auto weights = random_mlp(7, 9, 3, 2);
  write_mlp(weights, directory.file("mlp.onnx"), 1);  // exported at batch 1
  const ImportedModel model = import_onnx(directory.file("mlp.onnx"));
  for (int64_t batch : {1, 5}) {
    const auto x = random_inputs(batch * 7, uint64_t(batch));
    const auto run = run_imported(model, batch, {x});
    const auto expected = mlp_forward(weights, x, batch);
    ASSERT_EQ(run.outputs[0].size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_NEAR(run.outputs[0][i], expected[i], 1e-6) << "batch " << batch << " value " << i;
    }
  }
}

// A model of one node on input [2, 3, 4], written with `configure` adding the node.
std::string one_node_model(TemporaryDirectory& directory, const std::string& op,
                           const std::function<void(OnnxBuilder&, onnx::NodeProto&)>& configure,
                           int64_t opset = 13) {
  OnnxBuilder builder(opset);
  builder.input("x", {2, 3, 4});
  auto& node = builder.node(op, {"x"}, {"y"}, "the_node");
  configure(builder, node);
  builder.output("y");
  const std::string file = directory.file(op + ".onnx");
  builder.write(file);
  return file;
}

TEST(OnnxImport, RefusesAnUnmappedOpNamingNodeAndSupportedOps) {
  TemporaryDirectory directory;
  const auto file = one_node_model(directory, "Hardmax", [](auto&, auto&) {});
  expect_input_error([&] { import_onnx(file); },
                     {file, "node 'the_node' (Hardmax)", "not mapped", "Gemm", "Relu"});
}

TEST(OnnxImport, RefusesAnAttributeItDoesNotSupport) {
  TemporaryDirectory directory;
  const auto file = one_node_model(directory, "Relu", [](auto&, onnx::NodeProto& node) {
    OnnxBuilder::set(node, "alpha", 0.5f);
  });
  // The checker lets unknown attributes through only for ops it does not know; Relu has
  // none, so it refuses first: either way one line naming the file.
  expect_input_error([&] { import_onnx(file); }, {file});
}

TEST(OnnxImport, RefusesAxisZeroMovesAsTheBatchAxis) {
  TemporaryDirectory directory;
  const auto transpose = one_node_model(directory, "Transpose", [](auto&, onnx::NodeProto& node) {
    OnnxBuilder::set(node, "perm", std::vector<int64_t>{1, 0, 2});
  });
  expect_input_error([&] { import_onnx(transpose); },
                     {"node 'the_node' (Transpose)", "batch axis"});
  const auto reduce =
      one_node_model(directory, "ReduceSum", [](OnnxBuilder& builder, onnx::NodeProto& node) {
        builder.integer_initializer("axes", {0});
        node.add_input("axes");
      });
  expect_input_error([&] { import_onnx(reduce); }, {"node 'the_node' (ReduceSum)", "batch axis"});
  const auto reshape =
      one_node_model(directory, "Reshape", [](OnnxBuilder& builder, onnx::NodeProto& node) {
        builder.integer_initializer("shape", {4, 6});
        node.add_input("shape");
      });
  expect_input_error([&] { import_onnx(reshape); }, {"node 'the_node' (Reshape)", "[4, 6]"});
}

// W · xᵀ puts the batch into Y's columns: refused, though every shape is valid.
TEST(OnnxImport, RefusesTheBatchInGemmsSecondOperand) {
  TemporaryDirectory directory;
  OnnxBuilder builder;
  builder.input("x", {-1, 3});
  builder.initializer("w", {4, 3}, std::vector<float>(12, 0.5f));
  OnnxBuilder::set(builder.node("Gemm", {"w", "x"}, {"y"}, "wx"), "transB", int64_t{1});
  builder.output("y");
  builder.write(directory.file("m.onnx"));
  expect_input_error([&] { import_onnx(directory.file("m.onnx")); },
                     {"node 'wx' (Gemm)", "B 'x' is computed from the data"});
}

TEST(OnnxImport, KeepsTheBatchAxisFreeThroughReshapeAndReductions) {
  TemporaryDirectory directory;
  OnnxBuilder builder;
  builder.input("x", {2, 3, 4});
  builder.integer_initializer("shape", {2, -1});
  builder.integer_initializer("axes", {1});
  builder.node("Reshape", {"x", "shape"}, {"flat"});
  builder.node("ReduceMean", {"flat"}, {"y"}).add_attribute()->CopyFrom([] {
    onnx::AttributeProto axes;
    axes.set_name("axes");
    axes.set_type(onnx::AttributeProto_AttributeType_INTS);
    axes.add_ints(1);
    return axes;
  }());
  builder.output("y");
  builder.write(directory.file("m.onnx"));
  const ImportedModel model = import_onnx(directory.file("m.onnx"));
  // Run at batch 3, not the exported 2: the reshape's batch extent is left free.
  const auto x = random_inputs(3 * 12, 3);
  const auto run = run_imported(model, 3, {x});
  ASSERT_EQ(run.shapes[0], (Shape{3, 1}));  // keepdims
  for (int row = 0; row < 3; ++row) {
    double sum = 0.0;
    for (int i = 0; i < 12; ++i) sum += x[size_t(row * 12 + i)];
    EXPECT_NEAR(run.outputs[0][size_t(row)], sum / 12.0, 1e-6);
  }
}

TEST(OnnxImport, RefusesADropoutRatioOfSeveralValues) {
  TemporaryDirectory directory;
  const auto file =
      one_node_model(directory, "Dropout", [](OnnxBuilder& builder, onnx::NodeProto& node) {
        builder.initializer("ratio", {2}, {0.1f, 0.2f});
        node.add_input("ratio");
      });
  expect_input_error([&] { import_onnx(file); },
                     {"node 'the_node' (Dropout)", "'ratio' must be one value, not 2"});
}

TEST(OnnxImport, RefusesASymbolicDimensionBeyondTheBatch) {
  TemporaryDirectory directory;
  OnnxBuilder builder;
  builder.input("x", {-1, -1});
  builder.node("Relu", {"x"}, {"y"});
  builder.output("y");
  builder.write(directory.file("m.onnx"));
  expect_input_error([&] { import_onnx(directory.file("m.onnx")); },
                     {"input 'x'", "dimension 1", "fixed sizes"});
}

TEST(OnnxImport, RefusesFilesThatAreNotOnnxModels) {
  TemporaryDirectory directory;
  const auto weights = random_mlp(6, 5, 4, 1);
  write_mlp(weights, directory.file("mlp.onnx"));
  const auto size = std::filesystem::file_size(directory.file("mlp.onnx"));
  std::filesystem::copy_file(directory.file("mlp.onnx"), directory.file("cut.onnx"));
  std::filesystem::resize_file(directory.file("cut.onnx"), size / 2);
  expect_input_error([&] { import_onnx(directory.file("cut.onnx")); },
                     {directory.file("cut.onnx"), "not an ONNX model"});
  std::ofstream(directory.file("text.onnx")) << "name: not a model\n";
  expect_input_error([&] { import_onnx(directory.file("text.onnx")); },
                     {directory.file("text.onnx")});
  expect_input_error([&] { import_onnx(directory.path()); }, {directory.path()});
  expect_input_error([&] { import_onnx(directory.file("missing.onnx")); },
                     {directory.file("missing.onnx")});
}

// An initializer kept outside the model file (torch's large models): read from beside the
// model, never from outside its directory.
TEST(OnnxImport, ReadsExternalDataOnlyFromTheModelsDirectory) {
  TemporaryDirectory directory;
  auto write = [&](const std::string& location) {
    OnnxBuilder builder;
    builder.input("x", {-1, 2});
    builder.initializer("w", {2, 2}, {});
    auto& w = *builder.model().mutable_graph()->mutable_initializer(0);
    w.clear_raw_data();
    w.set_data_location(onnx::TensorProto_DataLocation_EXTERNAL);
    auto* entry = w.add_external_data();
    entry->set_key("location");
    entry->set_value(location);
    builder.node("MatMul", {"x", "w"}, {"y"}, "mm");
    builder.output("y");
    builder.write(directory.file("m.onnx"));
  };
  const std::vector<float> identity = {1, 0, 0, 1};
  std::ofstream(directory.file("w.bin"), std::ios::binary)
      .write(reinterpret_cast<const char*>(identity.data()), sizeof(float) * 4);
  write("w.bin");
  const auto run = run_imported(import_onnx(directory.file("m.onnx")), 1, {{3.0f, 4.0f}});
  EXPECT_EQ(run.outputs[0], (std::vector<float>{3.0f, 4.0f}));
  write("missing.bin");
  expect_input_error([&] { import_onnx(directory.file("m.onnx")); }, {"missing.bin"});
  write("../escape.bin");
  expect_input_error([&] { import_onnx(directory.file("m.onnx")); }, {"../escape.bin"});
}

}  // namespace
}  // namespace loom::testing
