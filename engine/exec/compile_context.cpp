#include "engine/exec/compile_context.hpp"

namespace loom {

dnnl::memory::dims to_dims(const Shape& shape) {
  if (shape.empty()) return {1};
  return dnnl::memory::dims(shape.begin(), shape.end());
}

dnnl::memory::desc plain_desc(DType dtype, const dnnl::memory::dims& dims) {
  dnnl::memory::dims strides(dims.size(), 1);
  for (size_t i = dims.size(); i-- > 1;) strides[i - 1] = strides[i] * dims[i];
  const auto data_type =
      dtype == DType::f32 ? dnnl::memory::data_type::f32 : dnnl::memory::data_type::s32;
  return dnnl::memory::desc(dims, data_type, strides);
}

dnnl::memory::desc plain_desc(const TensorType& type) {
  return plain_desc(type.dtype, to_dims(type.shape));
}

dnnl::memory CompileContext::memory(ValueId v) const {
  const Layout& held = layout(v);
  return memory(v, held.is_plain() ? plain_desc(type(v)) : held.native());
}

dnnl::memory::desc CompileContext::held_desc(ValueId v, const dnnl::memory::desc& plain_view,
                                             const dnnl::memory::desc& preferred) const {
  const Layout& held = layout(v);
  if (held.compatible(Layout::chosen(preferred, plain_view))) return preferred;
  return held.is_plain() ? plain_view : held.native();
}

dnnl::memory CompileContext::memory(ValueId v, const dnnl::memory::desc& desc) const {
  return dnnl::memory(desc, engine_, address(v));
}

}  // namespace loom
