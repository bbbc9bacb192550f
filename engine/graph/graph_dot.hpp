#pragma once
// Pictures of graphs: Graphviz DOT text, and SVG rendered by Graphviz's `dot` program.

#include <string>

#include "engine/graph/graph.hpp"

namespace loom {

// Ops are boxes (backward ones shaded), data and parameters are ellipses, and each edge is
// labelled with the shape of the value it carries.
std::string to_dot(const Graph& graph, const std::string& title);

// Runs `dot -Tsvg`; a RuntimeError says how to install Graphviz when it is missing, or that
// the graph is too large to draw (beyond 5,000 lines of DOT: nodes and edges).
std::string render_svg(const std::string& dot);

}  // namespace loom
