#pragma once
// The oneDNN engine and stream every plan of a job shares.

#include <oneapi/dnnl/dnnl.hpp>

namespace loom {

struct Runtime {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
};

}  // namespace loom
