#pragma once
// The oneDNN engine and stream every plan of a job shares, and the thread count its kernels
// run on.

#include <oneapi/dnnl/dnnl.hpp>
#include <vector>

#include "engine/exec/layout.hpp"
#include "engine/exec/threads.hpp"

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
  // The thread counts every plan compiles a kernel set for (threads.hpp), largest first, and
  // the one that runs now. Fixed when the runtime is created, before any plan.
  const std::vector<int> thread_counts = thread_counts_for_new_plans();
  size_t thread_slot = 0;

  // Runs every plan's kernels (and the engine's own loops) on thread_counts[slot] threads
  // from the next step on. Only between steps.
  void use_thread_slot(size_t slot);
};

}  // namespace loom
