#pragma once
// What Op::compile returns: one node bound to its buffers and ready to run.

#include <string>

namespace loom {

// A compiled node: everything is bound when the plan is built, so running it is one call
// with no lookups and no allocation in engine code.
class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual void run() = 0;
  // Which implementation runs: oneDNN's name for its kernel (e.g. "brg:avx512_core"), or
  // "loop" for the engine's own loops.
  virtual std::string implementation() const { return "loop"; }
};

}  // namespace loom
