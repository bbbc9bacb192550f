#include "ops/pool_common.hpp"

#include "engine/exec/layout.hpp"

namespace loom {

Window pool_window(const Node& node, const Shape& x) {
  if (x.size() != 4)
    fail_node(node, "expected x [batch, height, width, channels], got " + to_string(x));
  const std::vector<int64_t> size = node.attributes.get_ints("pool_size", {2, 2});
  if (size.empty() || size.size() > 2 || size[0] < 1 || size.back() < 1) {
    fail_node(node, "pool_size must be one or two positive integers");
  }
  return read_window(node, x[1], x[2], size[0], size.back(), false);
}

dnnl::memory::desc same_format(const dnnl::memory::desc& desc, const Shape& x) {
  using Tag = dnnl::memory::format_tag;
  for (Tag tag : {Tag::nhwc, Tag::nchw, Tag::nChw16c, Tag::nChw8c, Tag::nChw4c}) {
    if (same_arrangement(desc, dnnl::memory::desc(desc.dims(), desc.data_type(), tag))) {
      return dnnl::memory::desc({x[0], x[3], x[1], x[2]}, dnnl::memory::data_type::f32, tag);
    }
  }
  return nhwc_desc(x);
}

}  // namespace loom
