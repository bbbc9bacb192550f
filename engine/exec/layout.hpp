#pragma once
// Memory layouts, negotiated at plan time (oneDNN's format_tag::any).
//
// Every value starts plain: row-major over its shape as the graph states it (channels-last
// images, Keras's [KH, KW, Cin, Cout] kernels), which is what every op can read and what
// parameters, inputs and the values the trainer reads back are always kept in. An op whose
// oneDNN primitive runs faster on a format of oneDNN's choosing (a convolution on channels
// blocked by 16) negotiates: it is shown the layouts its inputs arrive in, and states the
// layouts it wants them in and the ones it produces. The layout pass then inserts a `reorder`
// node exactly where a value's layout and its reader's differ (one per value and layout,
// shared by every reader), so reorders are visible in the plan and counted, never implicit.

#include <oneapi/dnnl/dnnl.hpp>
#include <optional>
#include <span>
#include <vector>

#include "engine/graph/graph.hpp"

namespace loom {

// Whether two descriptors arrange the same elements at the same byte offsets (nchw and nhwc
// do, when there is one channel).
bool same_arrangement(const dnnl::memory::desc& a, const dnnl::memory::desc& b);

// Whether the engine's own loops can walk an f32 activation held as `desc` (dims [N, C] or
// oneDNN's (N, C, H, W)) a group of channels at a time: its channels are the innermost axis
// (channels last) or its one inner block (nChw16c), so a position's channels lie side by side.
bool channels_contiguous(const dnnl::memory::desc& desc);

class Layout {
 public:
  Layout() = default;  // plain
  // `chosen` as a primitive reported it; `plain_view` the value's row-major bytes described in
  // the same dims (the primitive's view of a plain value). A choice that arranges the bytes as
  // the plain view does is plain.
  static Layout chosen(const dnnl::memory::desc& chosen, const dnnl::memory::desc& plain_view);
  // A format with no plain counterpart (a pooling workspace): only its producer's partners
  // read it.
  static Layout opaque(const dnnl::memory::desc& desc);

  bool is_plain() const { return !native_; }
  bool is_opaque() const { return native_ && !plain_view_; }
  const dnnl::memory::desc& native() const { return *native_; }          // not plain
  const dnnl::memory::desc& plain_view() const { return *plain_view_; }  // not opaque
  // The buffer size the layout needs (blocked formats may pad), at least `plain_bytes`.
  int64_t bytes(int64_t plain_bytes) const;
  // Whether a buffer in this layout can be read as `other` without a reorder.
  bool compatible(const Layout& other) const;
  std::string describe() const;  // "plain", or oneDNN's format, for messages and reports

 private:
  std::optional<dnnl::memory::desc> native_;
  std::optional<dnnl::memory::desc> plain_view_;
};

// What a node negotiating layouts is shown and what it states (see Op::negotiate_layouts).
class LayoutNegotiation {
 public:
  LayoutNegotiation(const dnnl::engine& engine, const Graph& graph, const Node& node,
                    std::span<const Layout> value_layouts);

  const dnnl::engine& engine() const { return engine_; }
  const TensorType& type(ValueId v) const { return graph_.value(v).type; }
  // The layout input i arrives in.
  const Layout& incoming(size_t input) const;
  // The layout input i must be in when the node runs (default: plain).
  void want(size_t input, Layout layout) { wanted_.at(input) = std::move(layout); }
  // The layout output i is written in (default: plain).
  void produce(size_t output, Layout layout) { produced_.at(output) = std::move(layout); }

  const std::vector<Layout>& wanted() const { return wanted_; }
  const std::vector<Layout>& produced() const { return produced_; }

 private:
  const dnnl::engine& engine_;
  const Graph& graph_;
  const Node& node_;
  std::span<const Layout> value_layouts_;
  std::vector<Layout> wanted_;
  std::vector<Layout> produced_;
};

enum class LayoutPolicy {
  negotiated,  // ops choose formats, reorders where they meet (the default)
  plain,       // every value plain, no reorders (to measure what negotiation buys, or to test it)
};

// $LOOM_LAYOUTS: unset or "negotiated", or "plain"; anything else is an InputError.
LayoutPolicy layout_policy_from_environment();

struct LayoutAssignment {
  std::vector<Layout> value_layouts;  // per value
  int reorders = 0;                   // reorder nodes inserted
};

// Negotiates every node's layouts in order and inserts the reorder nodes into `graph`.
// Values in `plain_after_run` (read by the caller after a step: the loss, the prediction,
// the parameter gradients) end the step plain: a node producing one in another layout writes
// to a new value, and a reorder writes the named one.
LayoutAssignment assign_layouts(Graph& graph, const dnnl::engine& engine,
                                std::span<const ValueId> plain_after_run,
                                LayoutPolicy policy = LayoutPolicy::negotiated);

}  // namespace loom
