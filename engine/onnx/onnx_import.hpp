#pragma once
// ONNX in: a model file's graph as the engine's inputs, parameters and op nodes. The result
// holds no protobuf type, so the layers above (config, the conformance test) need no ONNX
// headers, and a build without libonnx-dev has the same interface (without_onnx.cpp).
//
// Axis 0 of every graph input is the batch axis, as in every model the engine trains: the
// importer follows it through the graph, so a model exported at batch 1 trains at batch 32.
// A node that would move or mix the batch axis (a Transpose of axis 0, a Reshape that
// changes it, a reduction over it) is refused, naming the node.

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/core/tensor_type.hpp"
#include "engine/graph/attributes.hpp"

namespace loom {

struct ImportedInput {
  std::string name;
  Shape shape;  // as the file declares it, the batch axis first
};

struct ImportedParameter {
  std::string name;
  Shape shape;
  std::shared_ptr<const std::vector<float>> values;  // row-major
  bool trainable = true;  // initializers are weights; Constant nodes and statistics are not
};

struct ImportedNode {
  std::string name;  // also its first output's name
  std::string op;    // an engine op
  std::vector<std::string> inputs;
  Attributes attributes;
};

struct ImportedModel {
  std::vector<ImportedInput> inputs;
  std::vector<ImportedParameter> parameters;
  std::vector<ImportedNode> nodes;  // in a valid topological order
  std::vector<std::string> outputs;
  std::vector<Shape> output_shapes;  // at `batch`, the batch axis first
  int64_t batch = 1;     // the batch the file was exported at (1 when its axis is symbolic)
  int64_t opset = 0;     // of the default domain
  std::string producer;  // "pytorch 1.13.1"
};

// The most nodes a file may have, as for a YAML graph (kMaxGraphNodes): an absurd file is one
// clear error rather than minutes of setup.
inline constexpr int kMaxOnnxNodes = 1'000'000;

struct ImportOptions {
  // Graph inputs given fixed values, each an ONNX TensorProto serialized (a node test's
  // input_N.pb): they become constants, so a Reshape may read its shape from one.
  std::map<std::string, std::string> bound_inputs;
};

// Reads, checks (onnx::checker) and maps `file`. InputError, one line, naming the file and,
// for what the engine cannot map, the node, its op and what is supported.
ImportedModel import_onnx(const std::filesystem::path& file, const ImportOptions& options = {});

// ONNX out: the graph form (inputs with the batch axis first, parameters with their values,
// engine nodes, outputs) as an ONNX model at opset 13, its batch axis symbolic ("batch"),
// checked by onnx::checker, serialized. `metadata` goes to metadata_props. A node whose op has
// no ONNX form is an InputError naming it. Importing the bytes gives back the same engine
// nodes (a matmul with its bias_add is one Gemm, read back as the two), so the predictions
// are the same bit for bit.
std::string export_onnx(const ImportedModel& graph,
                        const std::map<std::string, std::string>& metadata);
// Whether `file` is an ONNX model this engine exported (the only kind an export replaces).
bool is_exported_onnx(const std::filesystem::path& file);
inline constexpr const char* kOnnxProducer = "loom";

// The ONNX ops (default domain) the importer maps, sorted; empty without ONNX support.
std::vector<std::string> onnx_supported_ops();

}  // namespace loom
