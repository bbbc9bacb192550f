#include "engine/graph/graph_dot.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/core/error.hpp"
#include "engine/graph/op.hpp"

namespace loom {

namespace {

std::string quoted(const std::string& text) {
  std::string result = "\"";
  for (char c : text) {
    if (c == '\n') {
      result += "\\n";  // DOT's line break inside a label
      continue;
    }
    if (c == '"' || c == '\\') result += '\\';
    result += c;
  }
  return result + "\"";
}

constexpr std::ptrdiff_t kMaxDrawnElements = 5000;

std::string value_node(ValueId id) {
  return "v" + std::to_string(id);
}
std::string op_node(size_t index) {
  return "n" + std::to_string(index);
}

}  // namespace

std::string to_dot(const Graph& graph, const std::string& title) {
  std::ostringstream out;
  out << "digraph " << quoted(title) << " {\n"
      << "  graph [rankdir=TB, fontname=\"Helvetica\", label=" << quoted(title) << "];\n"
      << "  node [fontname=\"Helvetica\", fontsize=10];\n"
      << "  edge [fontname=\"Helvetica\", fontsize=9, color=\"#555555\"];\n";
  // Sources: data, labels, parameters and constants that some node reads.
  const auto consumers = graph.consumers();
  for (size_t id = 0; id < graph.values().size(); ++id) {
    const Value& value = graph.values()[id];
    if (value.role == ValueRole::intermediate || consumers[id].empty()) continue;
    const char* fill = value.role == ValueRole::parameter ? "#fff2cc" : "#e2efda";
    out << "  " << value_node(ValueId(id)) << " [shape=ellipse, style=filled, fillcolor=\"" << fill
        << "\", label=" << quoted(value.name + "\n" + to_string(value.type)) << "];\n";
  }
  for (size_t index = 0; index < graph.nodes().size(); ++index) {
    const Node& node = graph.nodes()[index];
    out << "  " << op_node(index) << " [shape=box, style=\"rounded,filled\", fillcolor=\""
        << (node.backward ? "#dde8f6" : "#ffffff")
        << "\", label=" << quoted(std::string(node.op->name()) + "\n" + node.name) << "];\n";
    for (ValueId input : node.inputs) {
      const Value& value = graph.value(input);
      const std::string from =
          value.producer == kNoProducer ? value_node(input) : op_node(size_t(value.producer));
      out << "  " << from << " -> " << op_node(index)
          << " [label=" << quoted(to_string(value.type.shape)) << "];\n";
    }
  }
  // The values the caller reads: the loss and the prediction.
  for (const auto& [id, label] :
       {std::pair{graph.loss(), "loss"}, std::pair{graph.prediction(), "prediction"}}) {
    if (!id || graph.value(*id).producer == kNoProducer) continue;
    out << "  out_" << label << " [shape=plaintext, label=" << quoted(label) << "];\n"
        << "  " << op_node(size_t(graph.value(*id).producer)) << " -> out_" << label << ";\n";
  }
  // And the parameter gradients the optimizer reads.
  for (const ParameterGradient& gradient : graph.parameter_gradients()) {
    const Value& value = graph.value(gradient.gradient);
    if (value.producer == kNoProducer) continue;
    const std::string sink = "grad_" + std::to_string(gradient.parameter);
    out << "  " << sink << " [shape=plaintext, label="
        << quoted("d loss / d " + graph.value(gradient.parameter).name) << "];\n"
        << "  " << op_node(size_t(value.producer)) << " -> " << sink << ";\n";
  }
  out << "}\n";
  return out.str();
}

std::string render_svg(const std::string& dot) {
  namespace fs = std::filesystem;
  // Every node and edge is a line of its own. Graphviz's layout time grows faster than the
  // graph (4,000 lines take it 4 s, 8,000 lines 15 s), and a picture of thousands of boxes
  // shows nothing anyway: a larger graph is refused at once rather than drawn for minutes.
  const auto elements = std::ranges::count(dot, '\n');
  if (elements > kMaxDrawnElements) {
    throw RuntimeError("the graph is too large to draw: " + std::to_string(elements) +
                       " nodes and edges, at most " + std::to_string(kMaxDrawnElements) +
                       " (--format dot or text prints it)");
  }
  std::string pattern = (fs::temp_directory_path() / "loom-graph-XXXXXX").string();
  if (!mkdtemp(pattern.data())) throw RuntimeError("cannot create a temporary directory");
  const fs::path directory = pattern, input = directory / "graph.dot",
                 output = directory / "graph.svg";
  std::ofstream(input) << dot;
  const std::string command = "dot -Tsvg " + input.string() + " -o " + output.string() + " 2>" +
                              (directory / "err").string();
  const int status = std::system(command.c_str());
  std::stringstream svg;
  if (status == 0) svg << std::ifstream(output).rdbuf();
  std::error_code ignored;
  fs::remove_all(directory, ignored);
  if (status != 0) {
    throw RuntimeError(WIFEXITED(status) && WEXITSTATUS(status) == 127
                           ? "Graphviz's `dot` is not installed (tools/setup.sh installs it)"
                           : "Graphviz's `dot` failed to render the graph");
  }
  return svg.str();
}

}  // namespace loom
