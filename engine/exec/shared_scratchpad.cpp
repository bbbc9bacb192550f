#include "engine/exec/shared_scratchpad.hpp"

#include <algorithm>
#include <stdexcept>

namespace loom {

dnnl::memory SharedScratchpad::bind(const dnnl::memory::desc& desc, const dnnl::engine& engine) {
  if (allocated_) {
    throw std::logic_error("a scratchpad was bound after the plan's was allocated");
  }
  largest_ = std::max(largest_, desc.get_size());
  return bound_.emplace_back(desc, engine, static_cast<void*>(nullptr));
}

void SharedScratchpad::allocate() {
  buffer_ = AlignedBuffer(largest_);
  allocated_ = true;
  for (dnnl::memory& memory : bound_) memory.set_data_handle(buffer_.data());
}

}  // namespace loom
