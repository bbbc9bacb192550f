#pragma once
// A kernel that runs one oneDNN primitive. The argument list is built once in the C form
// oneDNN consumes, because the C++ execute(stream, unordered_map) overload converts its map
// into a fresh std::vector on every call; and every primitive is created with a user-owned
// scratchpad, the plan's shared one (shared_scratchpad.hpp), so oneDNN does not allocate one
// per execution either.

#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <utility>
#include <vector>

#include "engine/exec/kernel.hpp"
#include "engine/graph/op.hpp"

namespace loom {

class CompileContext;

// Attributes with a user scratchpad: pass them to every primitive descriptor.
dnnl::primitive_attr kernel_attributes();

class PrimitiveKernel;

// A oneDNN reorder copying value `from`, read through `from_desc` (a strided view, a blocked
// format), into value `to`, written as `to_desc`: transpose, slice and the layout pass's
// reorder nodes are all this one primitive.
std::unique_ptr<PrimitiveKernel> make_reorder_kernel(const CompileContext& context, ValueId from,
                                                     const dnnl::memory::desc& from_desc,
                                                     ValueId to, const dnnl::memory::desc& to_desc);

class PrimitiveKernel final : public Kernel {
 public:
  PrimitiveKernel(const dnnl::primitive_desc_base& descriptor, dnnl::primitive primitive,
                  std::vector<std::pair<int, dnnl::memory>> arguments,
                  const CompileContext& context);
  void run() override;
  std::string implementation() const override { return implementation_; }

 private:
  std::string implementation_;
  dnnl::primitive primitive_;
  dnnl::stream stream_;
  std::vector<dnnl::memory> memories_;  // keeps the handles in c_arguments_ alive
  std::vector<dnnl_exec_arg_t> c_arguments_;
};

}  // namespace loom
