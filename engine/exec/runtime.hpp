#pragma once
// The oneDNN engine and stream every plan of a job shares.

#include <oneapi/dnnl/dnnl.hpp>

#include "engine/exec/layout.hpp"

namespace loom {

struct Runtime {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  // The training step being run (the trainer counts it): kernels that draw random numbers
  // (dropout) derive them from it, so a resumed run draws exactly what the original would.
  int64_t step = 0;
  // How plans lay out their tensors: negotiated unless $LOOM_LAYOUTS says plain (to measure
  // what negotiation buys).
  LayoutPolicy layouts = layout_policy_from_environment();
};

}  // namespace loom
