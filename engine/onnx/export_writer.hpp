#pragma once
// What the exporter's node writers share: a Writer that adds ONNX nodes and initializers to
// the graph, and keeps transposes pending until a node reads them. The engine holds images
// channels last and ONNX's image ops read them [N, C, H, W]: a convolution's output is
// written NCHW and stands for the engine's value as a pending transpose, so a chain of image
// ops (and the element-wise ops between them) is written with no transpose inside it, and a
// transpose and its inverse (an imported model's own boundary transposes) cancel out.

#include <onnx/onnx_pb.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/graph/graph.hpp"
#include "engine/onnx/onnx_import.hpp"

namespace loom {

using Permutation = std::vector<int64_t>;

inline const Permutation kToChannelsFirst = {0, 3, 1, 2};  // [N, H, W, C] -> [N, C, H, W]
inline const Permutation kToChannelsLast = {0, 2, 3, 1};   // [N, C, H, W] -> [N, H, W, C]

class Writer {
 public:
  explicit Writer(onnx::GraphProto& graph) : graph_(graph) {}

  onnx::NodeProto& node(const std::string& op, const std::vector<std::string>& inputs,
                        const std::string& output, const std::string& name);
  static void set(onnx::NodeProto& node, const std::string& name, int64_t value);
  static void set(onnx::NodeProto& node, const std::string& name, float value);
  static void set(onnx::NodeProto& node, const std::string& name, const std::string& value);
  static void set(onnx::NodeProto& node, const std::string& name,
                  const std::vector<int64_t>& values);
  void floats(const std::string& name, const Shape& shape, const std::vector<float>& values);
  void integers(const std::string& name, const std::vector<int64_t>& values);

  // The engine value `value` is Transpose(source, perm), written only when read.
  void pending(const std::string& value, const std::string& source, const Permutation& perm);
  // The ONNX value holding the engine value `value` (its pending transpose written first).
  std::string value(const std::string& value);
  // The ONNX value holding Transpose(value, perm), composed with value's pending transpose.
  std::string transposed(const std::string& value, const Permutation& perm);
  // When `value` is pending, the ONNX value it transposes and the permutation (element-wise
  // ops apply to the source and stay pending).
  std::optional<std::pair<std::string, Permutation>> pending_of(const std::string& value) const;

 private:
  std::pair<std::string, Permutation> resolve(const std::string& value) const;

  onnx::GraphProto& graph_;
  std::map<std::string, std::pair<std::string, Permutation>> pending_;
  std::map<std::pair<std::string, Permutation>, std::string> written_;  // (base, perm) -> name
};

// What one engine node becomes; `bias` is set when the bias_add reading this matmul's output
// is written into it (one Gemm).
struct NodeWriter {
  Writer& writer;
  const ImportedNode& node;
  std::string bias;     // a bias_add's bias folded into this matmul's Gemm
  const Graph& shapes;  // the exported graph at batch 1, for the shapes of its values

  [[noreturn]] void refuse(const std::string& what) const;
  const Shape& shape(size_t input) const {
    return shapes.value(shapes.value_named(node.inputs.at(input))).type.shape;
  }
  size_t rank(size_t input) const { return shape(input).size(); }
  // One ONNX node named after the engine node, its inputs read through Writer::value.
  onnx::NodeProto& one(const std::string& op, const std::vector<std::string>& inputs);
  // Input i as the ONNX value that holds it.
  std::string input(size_t i) const { return writer.value(node.inputs.at(i)); }
};

using NodeMapping = std::function<void(NodeWriter&)>;
using NodeMappings = std::map<std::string, NodeMapping>;

// export_images.cpp: conv2d, the poolings, batch_norm and the element-wise ops that keep an
// image's pending transpose.
void add_image_writers(NodeMappings& table);

}  // namespace loom
