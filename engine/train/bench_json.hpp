#pragma once
// `trainer bench --json`: the bench figures as a JSON object, for scripts that compare runs
// across commits or machines. Keys are BenchReport's member names; "layouts" is "negotiated"
// or "plain", and "nodes" lists each node's timing.

#include <string>

#include "engine/train/bench.hpp"

namespace loom {

// Indented by two spaces, ending in a newline.
std::string to_json(const BenchReport& report);

}  // namespace loom
