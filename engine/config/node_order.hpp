#pragma once
// The explicit graph's node list: its size limit, and the order its nodes run in (the file
// may list them in any order).

#include <set>
#include <string>
#include <vector>

#include "engine/config/experiment.hpp"

namespace loom {

// The `nodes` list (a sequence) must hold at most `limit` nodes: an InputError naming the
// list, its size and the limit otherwise.
void expect_node_count(const ConfigNode& nodes, size_t limit = kMaxGraphNodes);

// Orders nodes so that each comes after the nodes producing its inputs: a depth-first
// post-order from each node in file order, visiting inputs in their written order (so a file
// already in order keeps its order). `sources` are the names defined outside the nodes (the
// input and the parameters). Names defined twice, undefined inputs and cycles are InputErrors
// naming the node. Iterative: a chain of any length needs no stack depth.
std::vector<NodeSpec> topological_order(std::vector<NodeSpec> nodes,
                                        const std::set<std::string>& sources);

}  // namespace loom
