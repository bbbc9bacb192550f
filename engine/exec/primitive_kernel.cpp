#include "engine/exec/primitive_kernel.hpp"

#include "engine/core/error.hpp"
#include "engine/exec/compile_context.hpp"

namespace loom {

dnnl::primitive_attr kernel_attributes() {
  dnnl::primitive_attr attributes;
  attributes.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attributes;
}

PrimitiveKernel::PrimitiveKernel(const dnnl::primitive_desc_base& descriptor,
                                 dnnl::primitive primitive,
                                 std::vector<std::pair<int, dnnl::memory>> arguments,
                                 const CompileContext& context)
    : implementation_(descriptor.impl_info_str()),
      primitive_(std::move(primitive)),
      stream_(context.stream()) {
  const dnnl::memory::desc scratchpad_desc = descriptor.scratchpad_desc();
  if (scratchpad_desc.get_size() > 0) {
    arguments.emplace_back(DNNL_ARG_SCRATCHPAD,
                           context.scratchpad().bind(scratchpad_desc, context.engine()));
  }
  for (auto& [argument, memory] : arguments) {
    c_arguments_.push_back(dnnl_exec_arg_t{argument, memory.get()});
    memories_.push_back(std::move(memory));
  }
}

std::unique_ptr<PrimitiveKernel> make_reorder_kernel(const CompileContext& context, ValueId from,
                                                     const dnnl::memory::desc& from_desc,
                                                     ValueId to,
                                                     const dnnl::memory::desc& to_desc) {
  const dnnl::reorder::primitive_desc descriptor(context.engine(), from_desc, context.engine(),
                                                 to_desc, kernel_attributes());
  return std::make_unique<PrimitiveKernel>(
      descriptor, dnnl::reorder(descriptor),
      std::vector<std::pair<int, dnnl::memory>>{{DNNL_ARG_FROM, context.memory(from, from_desc)},
                                                {DNNL_ARG_TO, context.memory(to, to_desc)}},
      context);
}

void PrimitiveKernel::run() {
  const dnnl_status_t status = dnnl_primitive_execute(
      primitive_.get(), stream_.get(), static_cast<int>(c_arguments_.size()), c_arguments_.data());
  if (status != dnnl_success) {
    throw RuntimeError("oneDNN primitive failed with status " + std::to_string(int(status)));
  }
}

}  // namespace loom
