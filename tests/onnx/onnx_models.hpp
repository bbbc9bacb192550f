#pragma once
// Small ONNX models written by the tests themselves, with the protobuf classes libonnx-dev
// generates, as torch.onnx.export would lay them out (Linear as Gemm with transB=1).

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/core/tensor_type.hpp"
#include "engine/onnx/onnx_import.hpp"

namespace loom::testing {

class OnnxBuilder {
 public:
  explicit OnnxBuilder(int64_t opset = 13);

  // A FLOAT input; an extent of -1 is symbolic ("batch").
  void input(const std::string& name, const std::vector<int64_t>& dims);
  void output(const std::string& name);
  void initializer(const std::string& name, const Shape& shape, const std::vector<float>& values);
  void integer_initializer(const std::string& name, const std::vector<int64_t>& values);
  onnx::NodeProto& node(const std::string& op, const std::vector<std::string>& inputs,
                        const std::vector<std::string>& outputs, const std::string& name = "");

  static void set(onnx::NodeProto& node, const std::string& name, int64_t value);
  static void set(onnx::NodeProto& node, const std::string& name, float value);
  static void set(onnx::NodeProto& node, const std::string& name,
                  const std::vector<int64_t>& values);

  onnx::ModelProto& model() { return model_; }
  void write(const std::filesystem::path& file) const;

 private:
  onnx::ModelProto model_;
};

// A PyTorch-style MLP, inputs -> Gemm(W1ᵀ) -> Relu -> Gemm(W2ᵀ) -> Softmax, with weights
// drawn from `seed`: fc1.weight [hidden, inputs], fc1.bias, fc2.weight, fc2.bias.
struct MlpWeights {
  int64_t inputs, hidden, classes;
  std::vector<float> w1, b1, w2, b2;
};
MlpWeights random_mlp(int64_t inputs, int64_t hidden, int64_t classes, uint64_t seed);
void write_mlp(const MlpWeights& weights, const std::filesystem::path& file, int64_t batch = -1);

// The MLP's softmax outputs computed in double by a plain loop, row after row.
std::vector<double> mlp_forward(const MlpWeights& weights, const std::vector<float>& x,
                                int64_t rows);

// Runs an imported model's forward pass at `batch` on one value per input (row-major, the
// batch first) and returns each output's values, through the engine's Plan as training does.
struct ImportedRun {
  std::vector<std::vector<float>> outputs;
  std::vector<Shape> shapes;
};
ImportedRun run_imported(const ImportedModel& model, int64_t batch,
                         const std::vector<std::vector<float>>& inputs);

}  // namespace loom::testing
