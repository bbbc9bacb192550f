#pragma once
// Reading an ONNX file with the protobuf classes libonnx-dev generates (no protobuf code of
// our own): the model, checked by onnx::checker, and its tensors' values as the engine's
// types. Every error is an InputError naming the file.

#include <onnx/onnx_pb.h>

#include <filesystem>
#include <string>
#include <vector>

#include "engine/core/tensor_type.hpp"

namespace loom {

// The whole model, parsed and checked. A file that is not a regular file, not a protobuf, a
// truncated one, or a graph the checker refuses is one line naming the file.
onnx::ModelProto read_onnx_model(const std::filesystem::path& file);

// The opset version of the default domain ("" or "ai.onnx"); refused when absent.
int64_t default_opset(const onnx::ModelProto& model, const std::filesystem::path& file);

// A tensor's shape; a negative dimension (impossible in a valid file) is refused.
Shape tensor_shape(const onnx::TensorProto& tensor, const std::string& where);

// Where a tensor's values live: in the file, or (external data) in a file beside the model,
// which must stay inside the model's directory.
struct TensorSource {
  std::filesystem::path model_directory;
};

// A float, double or float16 tensor's values as float; any integer type (and bool) refused.
std::vector<float> float_values(const onnx::TensorProto& tensor, const TensorSource& source,
                                const std::string& where);
// An integer tensor's values (int64, int32, int8, uint8, bool ...); floats refused.
std::vector<int64_t> integer_values(const onnx::TensorProto& tensor, const TensorSource& source,
                                    const std::string& where);

// The element type's name as ONNX spells it ("FLOAT", "INT64").
std::string onnx_type_name(int32_t data_type);

}  // namespace loom
