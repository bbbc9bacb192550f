#pragma once
// A kernel written as a plain loop, for what oneDNN lacks (losses, optimizer-side updates).
// The callable captures the planned pointers and sizes when the node is compiled.

#include <memory>
#include <utility>

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

}  // namespace loom
