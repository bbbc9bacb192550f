// `trainer graph`: the graph an experiment builds, with its shapes, as text, DOT or SVG.

#include <memory>

#include "engine/config/build_graph.hpp"
#include "engine/graph/graph_dot.hpp"
#include "tools/command_support.hpp"
#include "tools/commands/command.hpp"

namespace loom {

namespace {

struct GraphSettings {
  bool backward = false;
  std::string format = "text";
  std::string output;
};

int graph(const CommandOptions& options, const GraphSettings& command) {
  const Experiment experiment = load(options);
  const int64_t batch = experiment.trainer.batch_size;
  const Graph g = command.backward ? build_training_graph(experiment, batch)
                                   : build_evaluation_graph(experiment, batch);
  const std::string title = experiment.name + (command.backward ? " (forward and backward)" : "");
  std::string text;
  if (command.format == "text") text = g.describe();
  if (command.format == "dot") text = to_dot(g, title);
  if (command.format == "svg") text = render_svg(to_dot(g, title));
  write_output(command.output, text);
  return kSucceeded;
}

using GraphFlags = CommandFlags<GraphSettings>;

void add_graph_flags(CLI::App& command, GraphFlags& flags) {
  add_common_options(command, flags.options);
  command.add_flag("--backward", flags.settings.backward, "include the generated backward pass");
  command.add_option("--format", flags.settings.format, "text (default), dot or svg")
      ->check(CLI::IsMember({"text", "dot", "svg"}));
  command.add_option("--output", flags.settings.output, "write to this file, not stdout");
}

}  // namespace

Command graph_command() {
  return make_command<GraphSettings>(
      "graph", "print or draw the graph of an experiment with its shapes", add_graph_flags,
      [](const GraphFlags& flags, Communicator&) { return graph(flags.options, flags.settings); });
}

}  // namespace loom
