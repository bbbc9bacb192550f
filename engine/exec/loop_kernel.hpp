#pragma once
// A kernel written as a plain loop, for what oneDNN lacks (losses, optimizer-side updates).
// The callable captures the planned pointers and sizes when the node is compiled.

#include <cstring>
#include <memory>
#include <utility>

#include "engine/exec/kernel.hpp"
#include "engine/graph/op.hpp"

namespace loom {

template <typename Body>
class LoopKernel final : public Kernel {
 public:
  explicit LoopKernel(Body body) : body_(std::move(body)) {}
  void run() override { body_(); }

 private:
  Body body_;
};

template <typename Body>
std::unique_ptr<Kernel> make_loop_kernel(Body body) {
  return std::make_unique<LoopKernel<Body>>(std::move(body));
}

// Copies `bytes` from `from` to `to`, or does nothing when the memory planner placed both in
// the same buffer (ops that only reinterpret a shape: reshape, flatten, identity).
inline std::unique_ptr<Kernel> make_copy_kernel(const void* from, void* to, size_t bytes) {
  if (from == to) return make_loop_kernel([] {});
  return make_loop_kernel([=] { std::memcpy(to, from, bytes); });
}

}  // namespace loom
