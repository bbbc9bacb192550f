// The exporter: each engine node of an inference graph as ONNX nodes at opset 13, the
// parameters as initializers (raw little-endian floats), the batch axis symbolic. Only ops
// with an exact ONNX form are written; the importer maps each form back to the same node.

#include <onnx/checker.h>

#include <climits>
#include <functional>
#include <map>
#include <numeric>
#include <set>

#include "engine/core/error.hpp"
#include "engine/core/mapped_file.hpp"
#include "engine/graph/initializer.hpp"
#include "engine/onnx/export_writer.hpp"
#include "engine/onnx/onnx_file.hpp"

namespace loom {

namespace {

constexpr int64_t kExportOpset = 13;

NodeMapping same(const char* op) {
  return [op](NodeWriter& w) { w.one(op, w.node.inputs); };
}

// A transpose is written only when read, composed with the transposes around it (an
// imported model's boundary transposes cancel against the image ops').
void write_transpose(NodeWriter& w) {
  w.writer.pending(w.node.name, w.node.inputs[0], w.node.attributes.get_ints("perm", {}));
}

// Batches of matrices: MatMul (Gemm is 2-D only) on the operands with their last two axes
// transposed where the node reads them so, then Add for a bias folded into it.
void write_batched_matmul(NodeWriter& w, bool transpose_a, bool transpose_b) {
  std::vector<std::string> operands;
  for (size_t i = 0; i < 2; ++i) {
    if (!(i == 0 ? transpose_a : transpose_b)) {
      operands.push_back(w.input(i));
      continue;
    }
    Permutation perm(w.rank(i));
    std::iota(perm.begin(), perm.end(), 0);
    std::swap(perm[perm.size() - 2], perm[perm.size() - 1]);
    operands.push_back(w.writer.transposed(w.node.inputs[i], perm));
  }
  if (w.bias.empty()) {
    w.writer.node("MatMul", operands, w.node.name, w.node.name);
    return;
  }
  const std::string product = w.node.name + "/product";
  w.writer.node("MatMul", operands, product, product);
  w.writer.node("Add", {product, w.writer.value(w.bias)}, w.node.name, w.node.name);
}

void write_matmul(NodeWriter& w) {
  const bool transpose_a = w.node.attributes.get_bool("transpose_a", false);
  const bool transpose_b = w.node.attributes.get_bool("transpose_b", false);
  std::vector<std::string> inputs = w.node.inputs;
  if (w.rank(0) > 2) {
    write_batched_matmul(w, transpose_a, transpose_b);
    return;
  }
  if (!transpose_a && !transpose_b && w.bias.empty()) {
    w.one("MatMul", inputs);
    return;
  }
  if (!w.bias.empty()) inputs.push_back(w.bias);
  auto& gemm = w.one("Gemm", inputs);
  if (transpose_a) Writer::set(gemm, "transA", int64_t{1});
  if (transpose_b) Writer::set(gemm, "transB", int64_t{1});
}

NodeMapping softmax(const char* op) {
  return [op](NodeWriter& w) {
    Writer::set(w.one(op, w.node.inputs), "axis", w.node.attributes.get_int("axis", -1));
  };
}

void write_elu(NodeWriter& w) {
  Writer::set(w.one("Elu", w.node.inputs), "alpha",
              float(w.node.attributes.get_real("alpha", 1.0)));
}

void write_leaky_relu(NodeWriter& w) {
  Writer::set(w.one("LeakyRelu", w.node.inputs), "alpha",
              float(w.node.attributes.get_real("negative_slope", 0.2)));
}

void write_scale(NodeWriter& w) {
  const std::string factor = w.node.name + "/factor";
  w.writer.floats(factor, {}, {float(w.node.attributes.get_real("factor", 1.0))});
  w.one("Mul", {w.node.inputs[0], factor});
}

void write_flatten(NodeWriter& w) {
  Writer::set(w.one("Flatten", w.node.inputs), "axis", int64_t{1});
}

void write_reshape(NodeWriter& w) {
  const std::string shape = w.node.name + "/shape";
  w.writer.integers(shape, w.node.attributes.get_ints("shape", {}));
  w.one("Reshape", {w.node.inputs[0], shape});
}

void write_concat(NodeWriter& w) {
  Writer::set(w.one("Concat", w.node.inputs), "axis", w.node.attributes.get_int("axis", -1));
}

void write_reduce_sum(NodeWriter& w) {
  const std::string axes = w.node.name + "/axes";
  w.writer.integers(axes, w.node.attributes.get_ints("axes", {}));
  Writer::set(w.one("ReduceSum", {w.node.inputs[0], axes}), "keepdims", int64_t{0});
}

void write_reduce_mean(NodeWriter& w) {
  auto& node = w.one("ReduceMean", w.node.inputs);
  Writer::set(node, "axes", w.node.attributes.get_ints("axes", {}));
  Writer::set(node, "keepdims", int64_t{0});
}

// Dropout with its ratio and training_mode absent (false): it passes values through at
// inference, and the importer reads it back as a dropout that drops while training.
void write_dropout(NodeWriter& w) {
  const std::string ratio = w.node.name + "/ratio";
  w.writer.floats(ratio, {}, {float(w.node.attributes.get_real("rate", 0.5))});
  w.one("Dropout", {w.node.inputs[0], ratio});
}

const NodeMappings& mappings() {
  static const NodeMappings table = [] {
    NodeMappings built = {
        {"matmul", write_matmul},
        {"bias_add", same("Add")},
        {"add", same("Add")},
        {"sub", same("Sub")},
        {"mul", same("Mul")},
        {"div", same("Div")},
        {"relu", same("Relu")},
        {"sigmoid", same("Sigmoid")},
        {"tanh", same("Tanh")},
        {"softplus", same("Softplus")},
        {"exp", same("Exp")},
        {"log", same("Log")},
        {"sqrt", same("Sqrt")},
        {"elu", write_elu},
        {"leaky_relu", write_leaky_relu},
        {"softmax", softmax("Softmax")},
        {"log_softmax", softmax("LogSoftmax")},
        {"scale", write_scale},
        {"flatten", write_flatten},
        {"reshape", write_reshape},
        {"transpose", write_transpose},
        {"concat", write_concat},
        {"reduce_sum", write_reduce_sum},
        {"reduce_mean", write_reduce_mean},
        {"dropout", write_dropout},
    };
    add_image_writers(built);
    return built;
  }();
  return table;
}

// A matmul whose output only a bias_add reads, written with it as one Gemm that takes the
// bias_add's name (which later nodes read).
struct GemmBias {
  std::string bias;
  std::string name;
};

std::map<std::string, GemmBias> gemm_biases(const ImportedModel& graph) {
  std::map<std::string, int> readers;
  std::set<std::string> outputs(graph.outputs.begin(), graph.outputs.end());
  for (const ImportedNode& node : graph.nodes) {
    for (const std::string& input : node.inputs) ++readers[input];
  }
  std::map<std::string, const ImportedNode*> by_name;
  for (const ImportedNode& node : graph.nodes) by_name[node.name] = &node;
  std::map<std::string, GemmBias> biases;  // by matmul
  for (const ImportedNode& node : graph.nodes) {
    if (node.op != "bias_add") continue;
    const auto producer = by_name.find(node.inputs[0]);
    if (producer == by_name.end() || producer->second->op != "matmul" ||
        readers[node.inputs[0]] != 1 || outputs.contains(node.inputs[0])) {
      continue;
    }
    biases[producer->first] = {node.inputs[1], node.name};
  }
  return biases;
}

void add_value_info(google::protobuf::RepeatedPtrField<onnx::ValueInfoProto>& list,
                    const std::string& name, const Shape& shape) {
  auto& value = *list.Add();
  value.set_name(name);
  auto& tensor = *value.mutable_type()->mutable_tensor_type();
  tensor.set_elem_type(onnx::TensorProto_DataType_FLOAT);
  auto& dims = *tensor.mutable_shape();
  dims.add_dim()->set_dim_param("batch");
  for (size_t i = 1; i < shape.size(); ++i) dims.add_dim()->set_dim_value(shape[i]);
}

// The graph built by the engine's ops at its inputs' batch, for the shapes of its values.
Graph shape_graph(const ImportedModel& model) {
  Graph graph;
  for (const ImportedInput& input : model.inputs)
    graph.add_input(input.name, {DType::f32, input.shape});
  for (const ImportedParameter& parameter : model.parameters) {
    graph.add_parameter(parameter.name, {DType::f32, parameter.shape},
                        Initializer::given(parameter.values), false);
  }
  for (const ImportedNode& node : model.nodes) {
    std::vector<ValueId> inputs;
    for (const std::string& input : node.inputs) inputs.push_back(graph.value_named(input));
    graph.add_node(node.name, node.op, inputs, node.attributes);
  }
  return graph;
}

}  // namespace

std::string export_onnx(const ImportedModel& graph,
                        const std::map<std::string, std::string>& metadata) {
  onnx::ModelProto model;
  model.set_ir_version(onnx::IR_VERSION);
  model.set_producer_name(kOnnxProducer);
  model.set_producer_version(LOOM_VERSION);
  auto& opset = *model.add_opset_import();
  opset.set_domain("");
  opset.set_version(kExportOpset);
  for (const auto& [key, value] : metadata) {
    auto& entry = *model.add_metadata_props();
    entry.set_key(key);
    entry.set_value(value);
  }
  onnx::GraphProto& proto = *model.mutable_graph();
  proto.set_name("loom");
  for (const ImportedInput& input : graph.inputs) {
    add_value_info(*proto.mutable_input(), input.name, input.shape);
  }
  const Graph shapes = shape_graph(graph);
  Writer writer(proto);
  for (const ImportedParameter& parameter : graph.parameters) {
    writer.floats(parameter.name, parameter.shape, *parameter.values);
  }
  const auto biases = gemm_biases(graph);
  for (const ImportedNode& node : graph.nodes) {
    if (node.op == "bias_add" && biases.contains(node.inputs[0])) continue;  // in its Gemm
    const auto mapping = mappings().find(node.op);
    if (mapping == mappings().end()) {
      throw InputError("node '" + node.name + "' (" + node.op +
                       "): the op has no ONNX form in this exporter yet");
    }
    ImportedNode written = node;
    const auto bias = biases.find(node.name);
    if (bias != biases.end()) written.name = bias->second.name;
    NodeWriter node_writer{writer, written, bias == biases.end() ? "" : bias->second.bias, shapes};
    mapping->second(node_writer);
  }
  for (size_t i = 0; i < graph.outputs.size(); ++i) {
    // An output still pending (a convolution's) is transposed back; one that is another
    // value's alias (a transpose that cancelled) is copied to its own name.
    const std::string& output = graph.outputs[i];
    const std::string held = writer.value(output);
    if (held != output) writer.node("Identity", {held}, output, output);
    add_value_info(*proto.mutable_output(), output, graph.output_shapes.at(i));
  }
  try {
    onnx::checker::check_model(model);
  } catch (const std::exception& error) {
    throw RuntimeError(std::string("the exported ONNX model fails onnx.checker: ") + error.what());
  }
  std::string bytes;
  if (!model.SerializeToString(&bytes)) {
    throw RuntimeError("the exported ONNX model does not serialize (over 2 GiB?)");
  }
  return bytes;
}

bool is_exported_onnx(const std::filesystem::path& file) {
  try {
    const auto mapped = MappedFile::open(file, "ONNX model file");
    onnx::ModelProto model;
    return mapped->size() < INT_MAX && model.ParseFromArray(mapped->data(), int(mapped->size())) &&
           model.producer_name() == kOnnxProducer;
  } catch (const InputError&) {
    return false;
  }
}

}  // namespace loom
