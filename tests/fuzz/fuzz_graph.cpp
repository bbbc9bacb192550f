// libFuzzer target for the explicit-graph builder: the bytes choose a small graph (ops from
// the registry, now and then a backward helper; inputs naming earlier, later, undefined or
// auxiliary values; attributes of the declared kind and sometimes not; parameter and input
// shapes), listed in an order the bytes choose too. The experiment is loaded (which orders
// the nodes and builds the training graph), then built again for other batch sizes, printed,
// drawn as DOT and memory-planned. The contract is the trainer's: accepted, or rejected
// with an InputError; any other exception, a crash or a sanitizer report is a finding.
//
// Shapes stay small (dimensions up to 6): overflowing shape arithmetic is fuzzed elsewhere.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/config/build_graph.hpp"
#include "engine/config/experiment.hpp"
#include "engine/core/error.hpp"
#include "engine/exec/memory_plan.hpp"
#include "engine/graph/graph_dot.hpp"
#include "engine/graph/op.hpp"

namespace {

// The fuzzer's bytes as a stream of choices; past the end every choice is 0 (the first).
class Choices {
 public:
  Choices(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  size_t pick(size_t count) {
    const size_t byte = at_ < size_ ? data_[at_++] : 0;
    return count == 0 ? 0 : byte % count;
  }
  // A rare choice: never made past the end of the bytes.
  bool one_in(size_t count) { return pick(count) == count - 1; }
  template <typename T>
  const T& from(const std::vector<T>& items) {
    return items[pick(items.size())];
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t at_ = 0;
};

std::string shape(Choices& choices, size_t max_rank) {
  const size_t rank = 1 + choices.pick(max_rank);
  std::string text = "[";
  for (size_t i = 0; i < rank; ++i) {
    text += (i ? ", " : "") + std::to_string(1 + choices.pick(6));
  }
  return text + "]";
}

std::string value_of_kind(Choices& choices, loom::AttributeKind kind) {
  using loom::AttributeKind;
  switch (kind) {
    case AttributeKind::boolean:
      return choices.one_in(2) ? "true" : "false";
    case AttributeKind::integer:
      return std::to_string(int(choices.pick(10)) - 2);
    case AttributeKind::real:
      return choices.from<std::string>({"1.0", "0.5", "0", "-1", "2.5", "1e-3", "0.99", "-0.5"});
    case AttributeKind::text:
      return choices.from<std::string>({"same", "valid", "relu", "none", "bogus", "''"});
    case AttributeKind::integers: {
      const size_t count = choices.pick(5);
      std::string text = "[";
      for (size_t i = 0; i < count; ++i) {
        text += (i ? ", " : "") + std::to_string(int(choices.pick(6)) - 1);
      }
      return text + "]";
    }
    case AttributeKind::reals:
      return choices.from<std::string>({"[0.5]", "[]", "[1, -1]", "[1e-3, 2.5]"});
  }
  return "0";
}

// The name one of node `index`'s inputs reads.
std::string input_name(Choices& choices, size_t index, size_t node_count, size_t parameters) {
  const std::string node = "n" + std::to_string(index);
  switch (choices.pick(16)) {
    case 10:
      return "x";
    case 11:
    case 12:
      return parameters ? "p" + std::to_string(choices.pick(parameters)) : "x";
    case 13:  // a later node: the order must be found, or a cycle reported
      return "n" + std::to_string(index + 1 + choices.pick(3));
    case 14:  // an auxiliary output (dropout's mask, batch statistics), or one that is not there
      return "n" + std::to_string(choices.pick(node_count)) + ":" +
             std::to_string(1 + choices.pick(2));
    case 15:
      return choices.one_in(2) ? node : "undefined";
    default:  // an earlier node, most often the one just before
      if (index == 0) return "x";
      return "n" + std::to_string(choices.one_in(2) ? choices.pick(index) : index - 1);
  }
}

std::string node_line(Choices& choices, size_t index, size_t node_count, size_t parameters) {
  static const std::vector<std::string> user_ops = loom::OpRegistry::global().names();
  static const std::vector<std::string> every_op = loom::OpRegistry::global().all_names();
  // Now and then a backward helper, which a config must not be able to name.
  const std::string& op_name = choices.one_in(64) ? choices.from(every_op) : choices.from(user_ops);
  const loom::OpSignature signature = loom::OpRegistry::global().get(op_name).signature();
  size_t inputs = signature.inputs.size() - choices.pick(signature.optional_inputs + 1);
  if (signature.variadic) inputs += choices.pick(3);
  if (choices.one_in(16)) inputs = choices.pick(5);  // a wrong count
  std::string line = "    - {name: n" + std::to_string(index) + ", op: " + op_name + ", inputs: [";
  for (size_t i = 0; i < inputs; ++i) {
    // A second operand is most often a weight, as in matmul(x, w) or bias_add(z, b).
    const bool weight = i > 0 && parameters > 0 && !choices.one_in(3);
    line += (i ? ", " : "") + (weight ? "p" + std::to_string(choices.pick(parameters))
                                      : input_name(choices, index, node_count, parameters));
  }
  line += "]";
  for (const loom::AttributeSpec& attribute : signature.attributes) {
    if (!choices.one_in(2)) continue;
    const auto kind = choices.one_in(32) ? loom::AttributeKind(choices.pick(5)) : attribute.kind;
    line += ", " + attribute.name + ": " + value_of_kind(choices, kind);
  }
  if (choices.one_in(64)) line += ", bogus: 1";
  return line + "}\n";
}

std::string experiment_text(Choices& choices) {
  const size_t input_width = 1 + choices.pick(6);
  const std::string input =
      choices.one_in(4) ? shape(choices, 3) : "[" + std::to_string(input_width) + "]";
  const size_t parameters = 1 + choices.pick(4) - (choices.one_in(8) ? 1 : 0);
  const size_t units = 1 + choices.pick(6);
  const size_t node_count = 1 + choices.pick(12);

  std::string text =
      "data:\n  train: {images: train-images-idx3-ubyte.gz, labels: "
      "train-labels-idx1-ubyte.gz}\nmodel:\n  inputs: {x: " +
      input + "}\n";
  if (parameters > 0) text += "  params:\n";
  for (size_t p = 0; p < parameters; ++p) {
    // Most often p0 is a [width, units] weight for the input and p1 a bias for its units.
    const std::string weight_shape =
        p == 0   ? "[" + std::to_string(input_width) + ", " + std::to_string(units) + "]"
        : p == 1 ? "[" + std::to_string(units) + "]"
                 : shape(choices, 4);
    text += "    p" + std::to_string(p) +
            ": {shape: " + (choices.one_in(4) ? shape(choices, 4) : weight_shape) + ", init: " +
            choices.from<std::string>({"glorot_uniform", "zeros", "ones", "he_normal"}) +
            (choices.one_in(8) ? ", trainable: false" : "") + "}\n";
  }
  std::vector<std::string> lines;
  for (size_t i = 0; i < node_count; ++i) {
    lines.push_back(node_line(choices, i, node_count, parameters));
  }
  // The file may list nodes in any order: as written, last-first, or shuffled.
  if (const size_t order = choices.pick(3); order == 1) {
    std::ranges::reverse(lines);
  } else if (order == 2) {
    for (size_t i = lines.size(); i > 1; --i) std::swap(lines[i - 1], lines[choices.pick(i)]);
  }
  text += "  nodes:\n";
  for (const std::string& line : lines) text += line;
  const size_t output = choices.one_in(8) ? choices.pick(node_count) : node_count - 1;
  text += "  outputs: [n" + std::to_string(output) +
          "]\ntrainer: {loss: " + choices.from(loom::known_losses()) +
          ", optimizer: sgd, batch_size: 2}\n";
  return text;
}

// What the trainer does with an accepted experiment before its first step, short of oneDNN.
void build_everything(const loom::Experiment& experiment) {
  loom::Graph training = loom::build_training_graph(experiment, 3);
  std::vector<loom::ValueId> pinned;
  if (training.loss()) pinned.push_back(*training.loss());
  if (training.prediction()) pinned.push_back(*training.prediction());
  for (const loom::ParameterGradient& g : training.parameter_gradients()) {
    pinned.push_back(g.gradient);
  }
  loom::plan_memory(training, pinned);
  (void)training.describe();
  (void)loom::to_dot(training, "fuzz");
  (void)loom::build_evaluation_graph(experiment, 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Choices choices(data, size);
  const std::string text = experiment_text(choices);
  try {
    build_everything(
        loom::parse_experiment(text, "fuzz_graph.yaml", "/usr/share/datasets/fashion-mnist"));
  } catch (const loom::InputError&) {
    // Rejected with a message: what bad input must get.
  }
  return 0;
}
