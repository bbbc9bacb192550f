#include "engine/onnx/onnx_file.hpp"

#include <onnx/checker.h>

#include <algorithm>
#include <bit>
#include <climits>
#include <cstring>
#include <limits>
#include <optional>

#include "engine/core/checked.hpp"
#include "engine/core/error.hpp"
#include "engine/core/mapped_file.hpp"

namespace loom {

namespace fs = std::filesystem;

// raw_data holds little-endian values; this engine runs on little-endian machines only (the
// copy below would otherwise need a byte swap).
static_assert(std::endian::native == std::endian::little);

namespace {

// The first line of an exception's text: the checker's messages run over several lines.
std::string first_line(const std::string& text) {
  const size_t end = text.find('\n');
  return end == std::string::npos ? text : text.substr(0, end) + " ...";
}

// The bytes of an external tensor: `location` relative to the model's directory and inside
// it (no absolute path, no "..": a model file must not read /etc/shadow), `offset` and
// `length` within the file.
std::string external_bytes(const onnx::TensorProto& tensor, const TensorSource& source,
                           const std::string& where) {
  std::string location;
  int64_t offset = 0, length = -1;
  for (const auto& entry : tensor.external_data()) {
    try {
      if (entry.key() == "location") location = entry.value();
      if (entry.key() == "offset") offset = std::stoll(entry.value());
      if (entry.key() == "length") length = std::stoll(entry.value());
    } catch (const std::exception&) {
      throw InputError(where + ": external data '" + entry.key() + "' is '" + entry.value() +
                       "', not a number");
    }
  }
  const fs::path relative = location;
  if (location.empty() || relative.is_absolute() ||
      std::ranges::any_of(relative, [](const fs::path& part) { return part == ".."; })) {
    throw InputError(where + ": external data location '" + location +
                     "' must be a file name relative to the model's directory, inside it");
  }
  const fs::path file = source.model_directory / relative;
  const auto mapped = MappedFile::open(file, "ONNX external data file");
  if (length < 0) length = mapped->size() - offset;
  if (offset < 0 || length < 0 || offset > mapped->size() || length > mapped->size() - offset) {
    throw InputError(where + ": external data [" + std::to_string(offset) + ", +" +
                     std::to_string(length) + ") lies outside " + file.string() + " (" +
                     std::to_string(mapped->size()) + " bytes)");
  }
  return {reinterpret_cast<const char*>(mapped->data()) + offset, size_t(length)};
}

bool is_external(const onnx::TensorProto& tensor) {
  return tensor.data_location() == onnx::TensorProto_DataLocation_EXTERNAL;
}

// Values stored as raw little-endian bytes (raw_data or an external file) of element type T.
template <typename T, typename Out>
std::vector<Out> from_bytes(const std::string& bytes, int64_t count, const std::string& where) {
  if (int64_t(bytes.size()) != checked_mul(count, int64_t(sizeof(T)), where)) {
    throw InputError(where + ": " + std::to_string(bytes.size()) + " bytes of data for " +
                     std::to_string(count) + " values of " + std::to_string(sizeof(T)) + " bytes");
  }
  std::vector<Out> values(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    T value;
    std::memcpy(&value, bytes.data() + i * int64_t(sizeof(T)), sizeof(T));
    values[size_t(i)] = static_cast<Out>(value);
  }
  return values;
}

// Values stored in one of the typed repeated fields.
template <typename Out, typename Field>
std::vector<Out> from_field(const Field& field, int64_t count, const std::string& where) {
  if (int64_t(field.size()) != count) {
    throw InputError(where + ": " + std::to_string(field.size()) + " values for a shape of " +
                     std::to_string(count));
  }
  std::vector<Out> values;
  values.reserve(size_t(count));
  for (const auto& value : field) values.push_back(static_cast<Out>(value));
  return values;
}

int64_t element_count(const onnx::TensorProto& tensor, const std::string& where) {
  return numel(tensor_shape(tensor, where));
}

// The bytes behind a tensor stored raw (in the file or outside it), or nullopt for the typed
// fields.
std::optional<std::string> raw_bytes(const onnx::TensorProto& tensor, const TensorSource& source,
                                     const std::string& where) {
  if (is_external(tensor)) return external_bytes(tensor, source, where);
  if (tensor.has_raw_data()) return tensor.raw_data();
  return std::nullopt;
}

}  // namespace

std::string onnx_type_name(int32_t data_type) {
  if (!onnx::TensorProto_DataType_IsValid(data_type)) return "type " + std::to_string(data_type);
  return onnx::TensorProto_DataType_Name(static_cast<onnx::TensorProto_DataType>(data_type));
}

onnx::ModelProto read_onnx_model(const fs::path& file) {
  const auto mapped = MappedFile::open(file, "ONNX model file");
  // Protobuf's parser takes an int size; a larger model keeps its weights as external data.
  if (mapped->size() > INT_MAX) {
    throw InputError(file.string() + ": " + std::to_string(mapped->size()) +
                     " bytes; an ONNX file over 2 GiB must keep its weights as external data");
  }
  onnx::ModelProto model;
  if (!model.ParseFromArray(mapped->data(), int(mapped->size()))) {
    throw InputError(file.string() +
                     ": not an ONNX model (the protobuf does not parse: truncated or another "
                     "kind of file)");
  }
  if (!model.has_graph()) throw InputError(file.string() + ": not an ONNX model (no graph)");
  try {
    // With external data the checker needs the model's directory, which only its path form
    // knows (it parses the file again: such a file holds the graph, not the weights).
    if (std::ranges::any_of(model.graph().initializer(), is_external)) {
      onnx::checker::check_model(file.string());
    } else {
      onnx::checker::check_model(model);
    }
  } catch (const std::exception& error) {
    throw InputError(file.string() +
                     ": onnx.checker refuses the model: " + first_line(error.what()));
  }
  return model;
}

int64_t default_opset(const onnx::ModelProto& model, const fs::path& file) {
  for (const auto& opset : model.opset_import()) {
    if (opset.domain().empty() || opset.domain() == "ai.onnx") return opset.version();
  }
  throw InputError(file.string() + ": the model imports no opset of the default ONNX domain");
}

Shape tensor_shape(const onnx::TensorProto& tensor, const std::string& where) {
  Shape shape(tensor.dims().begin(), tensor.dims().end());
  int64_t count = 1;
  for (int64_t extent : shape) {
    if (extent < 0) throw InputError(where + ": negative dimension in " + to_string(shape));
    count = checked_mul(count, extent, where);
  }
  if (count > kMaxElements) {
    throw InputError(where + ": " + to_string(shape) + " has more elements than a tensor may");
  }
  return shape;
}

std::vector<float> float_values(const onnx::TensorProto& tensor, const TensorSource& source,
                                const std::string& where) {
  const int64_t count = element_count(tensor, where);
  const auto raw = raw_bytes(tensor, source, where);
  switch (tensor.data_type()) {
    case onnx::TensorProto_DataType_FLOAT:
      return raw ? from_bytes<float, float>(*raw, count, where)
                 : from_field<float>(tensor.float_data(), count, where);
    case onnx::TensorProto_DataType_DOUBLE:
      return raw ? from_bytes<double, float>(*raw, count, where)
                 : from_field<float>(tensor.double_data(), count, where);
    default:
      throw InputError(where + ": a tensor of " + onnx_type_name(tensor.data_type()) +
                       " where the engine needs FLOAT (or DOUBLE) values");
  }
}

std::vector<int64_t> integer_values(const onnx::TensorProto& tensor, const TensorSource& source,
                                    const std::string& where) {
  const int64_t count = element_count(tensor, where);
  const auto raw = raw_bytes(tensor, source, where);
  switch (tensor.data_type()) {
    case onnx::TensorProto_DataType_INT64:
      return raw ? from_bytes<int64_t, int64_t>(*raw, count, where)
                 : from_field<int64_t>(tensor.int64_data(), count, where);
    case onnx::TensorProto_DataType_INT32:
      return raw ? from_bytes<int32_t, int64_t>(*raw, count, where)
                 : from_field<int64_t>(tensor.int32_data(), count, where);
    case onnx::TensorProto_DataType_BOOL:  // one byte raw, else one int32 each
    case onnx::TensorProto_DataType_UINT8:
      return raw ? from_bytes<uint8_t, int64_t>(*raw, count, where)
                 : from_field<int64_t>(tensor.int32_data(), count, where);
    case onnx::TensorProto_DataType_INT8:
      return raw ? from_bytes<int8_t, int64_t>(*raw, count, where)
                 : from_field<int64_t>(tensor.int32_data(), count, where);
    default:
      throw InputError(where + ": a tensor of " + onnx_type_name(tensor.data_type()) +
                       " where the engine needs integers");
  }
}

}  // namespace loom
