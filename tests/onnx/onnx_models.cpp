#include "tests/onnx/onnx_models.hpp"

#include <cmath>
#include <fstream>
#include <stdexcept>

#include "engine/core/random.hpp"
#include "engine/exec/parameter_store.hpp"
#include "engine/exec/plan.hpp"

namespace loom::testing {

OnnxBuilder::OnnxBuilder(int64_t opset) {
  model_.set_ir_version(8);
  model_.set_producer_name("loom-tests");
  auto* import = model_.add_opset_import();
  import->set_domain("");
  import->set_version(opset);
  model_.mutable_graph()->set_name("test");
}

void OnnxBuilder::input(const std::string& name, const std::vector<int64_t>& dims) {
  auto* input = model_.mutable_graph()->add_input();
  input->set_name(name);
  auto* tensor = input->mutable_type()->mutable_tensor_type();
  tensor->set_elem_type(onnx::TensorProto_DataType_FLOAT);
  auto* shape = tensor->mutable_shape();
  for (int64_t extent : dims) {
    auto* dim = shape->add_dim();
    if (extent < 0) {
      dim->set_dim_param("batch");
    } else {
      dim->set_dim_value(extent);
    }
  }
}

void OnnxBuilder::output(const std::string& name) {
  auto* output = model_.mutable_graph()->add_output();
  output->set_name(name);
  auto* tensor = output->mutable_type()->mutable_tensor_type();
  tensor->set_elem_type(onnx::TensorProto_DataType_FLOAT);
  tensor->mutable_shape();  // the checker wants one; its dimensions may stay unknown
}

void OnnxBuilder::initializer(const std::string& name, const Shape& shape,
                              const std::vector<float>& values) {
  auto* tensor = model_.mutable_graph()->add_initializer();
  tensor->set_name(name);
  tensor->set_data_type(onnx::TensorProto_DataType_FLOAT);
  for (int64_t extent : shape) tensor->add_dims(extent);
  // Raw little-endian bytes, as PyTorch writes them.
  tensor->set_raw_data(
      std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float)));
}

void OnnxBuilder::integer_initializer(const std::string& name, const std::vector<int64_t>& values) {
  auto* tensor = model_.mutable_graph()->add_initializer();
  tensor->set_name(name);
  tensor->set_data_type(onnx::TensorProto_DataType_INT64);
  tensor->add_dims(int64_t(values.size()));
  for (int64_t value : values) tensor->add_int64_data(value);
}

onnx::NodeProto& OnnxBuilder::node(const std::string& op, const std::vector<std::string>& inputs,
                                   const std::vector<std::string>& outputs,
                                   const std::string& name) {
  auto* node = model_.mutable_graph()->add_node();
  node->set_op_type(op);
  node->set_name(name);
  for (const auto& input : inputs) node->add_input(input);
  for (const auto& output : outputs) node->add_output(output);
  return *node;
}

void OnnxBuilder::set(onnx::NodeProto& node, const std::string& name, int64_t value) {
  auto* attribute = node.add_attribute();
  attribute->set_name(name);
  attribute->set_type(onnx::AttributeProto_AttributeType_INT);
  attribute->set_i(value);
}

void OnnxBuilder::set(onnx::NodeProto& node, const std::string& name, float value) {
  auto* attribute = node.add_attribute();
  attribute->set_name(name);
  attribute->set_type(onnx::AttributeProto_AttributeType_FLOAT);
  attribute->set_f(value);
}

void OnnxBuilder::set(onnx::NodeProto& node, const std::string& name,
                      const std::vector<int64_t>& values) {
  auto* attribute = node.add_attribute();
  attribute->set_name(name);
  attribute->set_type(onnx::AttributeProto_AttributeType_INTS);
  for (int64_t value : values) attribute->add_ints(value);
}

void OnnxBuilder::write(const std::filesystem::path& file) const {
  std::ofstream out(file, std::ios::binary);
  if (!model_.SerializeToOstream(&out)) throw std::runtime_error("cannot write " + file.string());
}

MlpWeights random_mlp(int64_t inputs, int64_t hidden, int64_t classes, uint64_t seed) {
  Random random(seed);
  auto draw = [&](int64_t count) {
    std::vector<float> values(static_cast<size_t>(count));
    for (float& value : values) value = float(random.uniform(-0.5, 0.5));
    return values;
  };
  return {
      inputs,       hidden, classes, draw(hidden * inputs), draw(hidden), draw(classes * hidden),
      draw(classes)};
}

void write_mlp(const MlpWeights& weights, const std::filesystem::path& file, int64_t batch) {
  OnnxBuilder builder;
  builder.input("input", {batch, weights.inputs});
  builder.initializer("fc1.weight", {weights.hidden, weights.inputs}, weights.w1);
  builder.initializer("fc1.bias", {weights.hidden}, weights.b1);
  builder.initializer("fc2.weight", {weights.classes, weights.hidden}, weights.w2);
  builder.initializer("fc2.bias", {weights.classes}, weights.b2);
  auto& fc1 = builder.node("Gemm", {"input", "fc1.weight", "fc1.bias"}, {"/fc1/Gemm_output_0"},
                           "/fc1/Gemm");
  OnnxBuilder::set(fc1, "transB", int64_t{1});
  builder.node("Relu", {"/fc1/Gemm_output_0"}, {"/relu/Relu_output_0"}, "/relu/Relu");
  auto& fc2 = builder.node("Gemm", {"/relu/Relu_output_0", "fc2.weight", "fc2.bias"},
                           {"/fc2/Gemm_output_0"}, "/fc2/Gemm");
  OnnxBuilder::set(fc2, "transB", int64_t{1});
  auto& softmax = builder.node("Softmax", {"/fc2/Gemm_output_0"}, {"output"}, "/Softmax");
  OnnxBuilder::set(softmax, "axis", int64_t{1});
  builder.output("output");
  builder.write(file);
}

std::vector<double> mlp_forward(const MlpWeights& weights, const std::vector<float>& x,
                                int64_t rows) {
  std::vector<double> out;
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<double> hidden(size_t(weights.hidden));
    for (int64_t h = 0; h < weights.hidden; ++h) {
      double sum = weights.b1[size_t(h)];
      for (int64_t i = 0; i < weights.inputs; ++i) {
        sum +=
            double(weights.w1[size_t(h * weights.inputs + i)]) * x[size_t(r * weights.inputs + i)];
      }
      hidden[size_t(h)] = std::max(sum, 0.0);
    }
    std::vector<double> logits(size_t(weights.classes));
    double largest = -1e300;
    for (int64_t c = 0; c < weights.classes; ++c) {
      double sum = weights.b2[size_t(c)];
      for (int64_t h = 0; h < weights.hidden; ++h) {
        sum += double(weights.w2[size_t(c * weights.hidden + h)]) * hidden[size_t(h)];
      }
      logits[size_t(c)] = sum;
      largest = std::max(largest, sum);
    }
    double total = 0.0;
    for (double& logit : logits) total += (logit = std::exp(logit - largest));
    for (double logit : logits) out.push_back(logit / total);
  }
  return out;
}

ImportedRun run_imported(const ImportedModel& model, int64_t batch,
                         const std::vector<std::vector<float>>& inputs) {
  Graph graph;
  std::vector<ValueId> input_ids;
  for (const ImportedInput& input : model.inputs) {
    Shape shape = input.shape;
    shape[0] = batch;
    input_ids.push_back(graph.add_input(input.name, {DType::f32, shape}));
  }
  for (const ImportedParameter& parameter : model.parameters) {
    graph.add_parameter(parameter.name, {DType::f32, parameter.shape},
                        Initializer::given(parameter.values), parameter.trainable);
  }
  for (const ImportedNode& node : model.nodes) {
    std::vector<ValueId> ids;
    for (const std::string& input : node.inputs) ids.push_back(graph.value_named(input));
    graph.add_node(node.name, node.op, ids, node.attributes);
  }
  std::vector<ValueId> output_ids;
  for (const std::string& output : model.outputs) {
    output_ids.push_back(graph.value_named(output));
    graph.add_output(output_ids.back());
  }
  ParameterStore parameters;
  parameters.initialize_from(graph, 0);
  Runtime runtime;
  Plan plan(std::move(graph), parameters, runtime);
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TensorType& type = plan.graph().value(input_ids[i]).type;
    if (int64_t(inputs[i].size()) != type.numel()) {
      throw std::runtime_error("input " + std::to_string(i) + ": " +
                               std::to_string(inputs[i].size()) + " values for " + to_string(type));
    }
    std::copy(inputs[i].begin(), inputs[i].end(), plan.f32(input_ids[i]));
  }
  plan.run();
  ImportedRun run;
  for (ValueId output : output_ids) {
    const TensorType& type = plan.graph().value(output).type;
    const float* values = plan.f32(output);
    run.outputs.emplace_back(values, values + type.numel());
    run.shapes.push_back(type.shape);
  }
  return run;
}

}  // namespace loom::testing
