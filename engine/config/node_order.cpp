#include "engine/config/node_order.hpp"

#include <unordered_map>

#include "engine/core/error.hpp"

namespace loom {

namespace {

// A cycle of many nodes is named by its ends: a line of 200,000 names helps nobody.
constexpr size_t kCycleNamesShown = 8;

// `path` is the depth-first path from a root to the node that reads `repeated`, which is
// already on the path: the cycle runs from there to the end of the path and back.
[[noreturn]] void fail_cycle(const std::vector<NodeSpec>& nodes, const std::vector<size_t>& path,
                             size_t repeated) {
  size_t start = 0;
  while (path[start] != repeated) ++start;
  std::vector<size_t> cycle(path.begin() + std::ptrdiff_t(start), path.end());
  cycle.push_back(repeated);
  std::string text;
  const auto append = [&](size_t from, size_t to) {
    for (size_t i = from; i < to; ++i) text += (text.empty() ? "" : " <- ") + nodes[cycle[i]].name;
  };
  if (cycle.size() <= 2 * kCycleNamesShown) {
    append(0, cycle.size());
  } else {
    append(0, kCycleNamesShown);
    text += " <- ... (" + std::to_string(cycle.size() - 2 * kCycleNamesShown) + " more)";
    append(cycle.size() - kCycleNamesShown, cycle.size());
  }
  const NodeSpec& node = nodes[repeated];
  throw InputError(node.where + ": node '" + node.name +
                   "' is part of a cycle (a <- b: a reads b): " + text);
}

// For each node, the indices of the nodes producing its inputs, in input order (inputs that
// are sources have no producer and are left out).
std::vector<std::vector<size_t>> producers_of_inputs(const std::vector<NodeSpec>& nodes,
                                                     const std::set<std::string>& sources) {
  std::unordered_map<std::string, size_t> producer;
  producer.reserve(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (sources.contains(nodes[i].name) || !producer.emplace(nodes[i].name, i).second) {
      throw InputError(nodes[i].where + ": the name '" + nodes[i].name + "' is defined twice");
    }
  }
  std::vector<std::vector<size_t>> reads(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    const NodeSpec& node = nodes[i];
    for (const std::string& input : node.inputs) {
      if (const auto it = producer.find(input); it != producer.end()) {
        reads[i].push_back(it->second);
      } else if (!sources.contains(input)) {
        throw InputError(node.where + ": node '" + node.name + "' (" + node.op + "): input '" +
                         input + "' is not defined");
      }
    }
  }
  return reads;
}

}  // namespace

void expect_node_count(const ConfigNode& nodes, size_t limit) {
  if (nodes.size() > limit) {
    nodes.fail(std::to_string(nodes.size()) + " nodes; an explicit graph may have at most " +
               std::to_string(limit));
  }
}

std::vector<NodeSpec> topological_order(std::vector<NodeSpec> nodes,
                                        const std::set<std::string>& sources) {
  const std::vector<std::vector<size_t>> reads = producers_of_inputs(nodes, sources);
  enum class Mark { none, visiting, done };
  std::vector<Mark> marks(nodes.size(), Mark::none);
  std::vector<size_t> order;
  order.reserve(nodes.size());
  // The depth-first path, with how many of each node's inputs have been visited: an explicit
  // stack, since a chain listed last-first is as deep as it is long.
  std::vector<size_t> path;
  std::vector<size_t> next_input;
  const auto enter = [&](size_t node) {
    marks[node] = Mark::visiting;
    path.push_back(node);
    next_input.push_back(0);
  };
  for (size_t root = 0; root < nodes.size(); ++root) {
    if (marks[root] != Mark::none) continue;
    enter(root);
    while (!path.empty()) {
      const size_t node = path.back();
      if (next_input.back() == reads[node].size()) {
        marks[node] = Mark::done;
        order.push_back(node);
        path.pop_back();
        next_input.pop_back();
        continue;
      }
      const size_t input = reads[node][next_input.back()++];
      if (marks[input] == Mark::visiting) fail_cycle(nodes, path, input);
      if (marks[input] == Mark::none) enter(input);
    }
  }
  std::vector<NodeSpec> ordered;
  ordered.reserve(nodes.size());
  for (size_t i : order) ordered.push_back(std::move(nodes[i]));
  return ordered;
}

}  // namespace loom
