#pragma once
// One scratchpad for every oneDNN primitive of a plan. A plan runs its kernels one at a time,
// so they can all work in the same bytes: the plan holds the largest scratchpad any of its
// primitives asks for instead of one per primitive and per thread count. That matters for
// oneDNN's Winograd convolutions, which want 7-17 MB each for the book convnet (its training
// plans' peak RSS was 286 MB with a scratchpad per primitive, 165 MB without Winograd), and
// it keeps the one buffer warm in cache from primitive to primitive.

#include <oneapi/dnnl/dnnl.hpp>
#include <vector>

#include "engine/core/aligned_buffer.hpp"

namespace loom {

class SharedScratchpad {
 public:
  // A memory for a primitive's DNNL_ARG_SCRATCHPAD, in `desc`; it points into the shared
  // bytes once allocate() has run, which must happen before the primitive first runs.
  dnnl::memory bind(const dnnl::memory::desc& desc, const dnnl::engine& engine);
  // Allocates the largest scratchpad bound so far and points every bound memory at it.
  void allocate();
  size_t bytes() const { return buffer_.bytes(); }

 private:
  std::vector<dnnl::memory> bound_;  // handles shared with the kernels' own copies
  size_t largest_ = 0;
  bool allocated_ = false;
  AlignedBuffer buffer_;
};

}  // namespace loom
