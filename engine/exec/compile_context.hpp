#pragma once
// What a node sees while it is compiled into a kernel: the oneDNN engine and stream, and
// the planned address and type of every value. Kernels bind these once; running them
// later needs nothing else.

#include <oneapi/dnnl/dnnl.hpp>
#include <span>

#include "engine/exec/layout.hpp"
#include "engine/exec/shared_scratchpad.hpp"
#include "engine/graph/graph.hpp"

namespace loom {

class CompileContext {
 public:
  CompileContext(const dnnl::engine& engine, dnnl::stream& stream, const Graph& graph,
                 std::span<void* const> addresses, std::span<const Layout> layouts,
                 const int64_t* step, SharedScratchpad& scratchpad)
      : engine_(engine),
        stream_(stream),
        graph_(graph),
        addresses_(addresses),
        layouts_(layouts),
        step_(step),
        scratchpad_(scratchpad) {}

  // The training step counter (Runtime::step), read by kernels when they run.
  const int64_t* step() const { return step_; }
  // The plan's one scratchpad, which its oneDNN primitives share (shared_scratchpad.hpp).
  SharedScratchpad& scratchpad() const { return scratchpad_; }

  const dnnl::engine& engine() const { return engine_; }
  dnnl::stream& stream() const { return stream_; }
  const Graph& graph() const { return graph_; }
  const TensorType& type(ValueId v) const { return graph_.value(v).type; }
  void* address(ValueId v) const { return addresses_[size_t(v)]; }
  float* f32(ValueId v) const { return static_cast<float*>(address(v)); }
  int32_t* i32(ValueId v) const { return static_cast<int32_t*>(address(v)); }

  // The layout the value's buffer holds (see layout.hpp): plain unless this node, or the one
  // producing the value, negotiated another.
  const Layout& layout(ValueId v) const { return layouts_[size_t(v)]; }
  // A oneDNN memory over the value's planned buffer in its layout (row-major when plain; a
  // scalar is dims {1}).
  dnnl::memory memory(ValueId v) const;
  // The same buffer seen through another descriptor (a transposed or reshaped view).
  dnnl::memory memory(ValueId v, const dnnl::memory::desc& desc) const;
  // The value's layout in an op's own dims: its native format, or `plain_view` (the op's
  // description of row-major bytes) when it is plain. `preferred`, what oneDNN chose while
  // negotiating, wins whenever it arranges the bytes the same way (nchw for one channel).
  dnnl::memory::desc held_desc(ValueId v, const dnnl::memory::desc& plain_view,
                               const dnnl::memory::desc& preferred) const;
  dnnl::memory::desc held_desc(ValueId v, const dnnl::memory::desc& plain_view) const {
    return held_desc(v, plain_view, plain_view);
  }

 private:
  const dnnl::engine& engine_;
  dnnl::stream& stream_;
  const Graph& graph_;
  std::span<void* const> addresses_;
  std::span<const Layout> layouts_;
  const int64_t* step_;
  SharedScratchpad& scratchpad_;
};

// Row-major descriptor of a tensor type; `dims` overrides the shape (same element count).
dnnl::memory::desc plain_desc(const TensorType& type);
dnnl::memory::desc plain_desc(DType dtype, const dnnl::memory::dims& dims);
dnnl::memory::dims to_dims(const Shape& shape);

}  // namespace loom
