#include "engine/exec/layout.hpp"

#include <algorithm>
#include <cstdlib>
#include <numeric>
#include <unordered_map>

#include "engine/core/error.hpp"
#include "engine/graph/op.hpp"

namespace loom {

namespace {

bool is_strided(const dnnl_memory_desc_t& d) {
  return d.format_kind == dnnl_blocked && d.format_desc.blocking.inner_nblks == 0;
}

}  // namespace

bool same_arrangement(const dnnl::memory::desc& a, const dnnl::memory::desc& b) {
  if (a == b) return true;
  const dnnl_memory_desc_t &x = a.data, &y = b.data;
  if (!is_strided(x) || !is_strided(y) || x.ndims != y.ndims || x.data_type != y.data_type ||
      x.offset0 != y.offset0) {
    return false;
  }
  for (int i = 0; i < x.ndims; ++i) {
    if (x.dims[i] != y.dims[i] || x.padded_dims[i] != y.padded_dims[i]) return false;
    // A stride along an axis of one element never moves the address.
    if (x.dims[i] > 1 && x.format_desc.blocking.strides[i] != y.format_desc.blocking.strides[i]) {
      return false;
    }
  }
  return true;
}

bool channels_contiguous(const dnnl::memory::desc& desc) {
  const dnnl_memory_desc_t& d = desc.data;
  if ((d.ndims != 2 && d.ndims != 4) || d.data_type != dnnl_f32 || d.format_kind != dnnl_blocked ||
      d.extra.flags != 0) {
    return false;
  }
  const dnnl_blocking_desc_t& blocking = d.format_desc.blocking;
  if (blocking.inner_nblks == 0) return d.dims[1] == 1 || blocking.strides[1] == 1;
  return blocking.inner_nblks == 1 && blocking.inner_idxs[0] == 1;
}

Layout Layout::chosen(const dnnl::memory::desc& chosen, const dnnl::memory::desc& plain_view) {
  Layout layout;
  if (same_arrangement(chosen, plain_view)) return layout;
  layout.native_ = chosen;
  layout.plain_view_ = plain_view;
  return layout;
}

Layout Layout::opaque(const dnnl::memory::desc& desc) {
  Layout layout;
  layout.native_ = desc;
  return layout;
}

int64_t Layout::bytes(int64_t plain_bytes) const {
  return is_plain() ? plain_bytes : std::max(plain_bytes, int64_t(native_->get_size()));
}

bool Layout::compatible(const Layout& other) const {
  if (is_plain() || other.is_plain()) return is_plain() == other.is_plain();
  return same_arrangement(native(), other.native());
}

// oneDNN's own naming of formats: one letter per dimension, outermost first, upper case when
// the dimension is also blocked, then the inner blocks ("aBcd16b": channels in blocks of 16).
std::string Layout::describe() const {
  if (is_plain()) return "plain";
  const dnnl_memory_desc_t& d = native_->data;
  if (d.format_kind != dnnl_blocked) return "opaque";
  const dnnl_blocking_desc_t& blocking = d.format_desc.blocking;
  std::vector<int> order(size_t(d.ndims));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int i, int j) { return blocking.strides[i] > blocking.strides[j]; });
  std::string name;
  for (int axis : order) {
    bool blocked = false;
    for (int b = 0; b < blocking.inner_nblks; ++b) blocked |= blocking.inner_idxs[b] == axis;
    name += char((blocked ? 'A' : 'a') + axis);
  }
  for (int b = 0; b < blocking.inner_nblks; ++b) {
    name += std::to_string(blocking.inner_blks[b]) + char('a' + blocking.inner_idxs[b]);
  }
  return name;
}

LayoutNegotiation::LayoutNegotiation(const dnnl::engine& engine, const Graph& graph,
                                     const Node& node, std::span<const Layout> value_layouts)
    : engine_(engine),
      graph_(graph),
      node_(node),
      value_layouts_(value_layouts),
      wanted_(node.inputs.size()),
      produced_(node.outputs.size()) {}

const Layout& LayoutNegotiation::incoming(size_t input) const {
  return value_layouts_[size_t(node_.inputs.at(input))];
}

namespace {

// The pass's state: the rewritten node list, every value's layout, and the reorders made so
// far (a value is reordered into a given layout once, whoever reads it).
class LayoutPass {
 public:
  LayoutPass(Graph& graph, const dnnl::engine& engine) : graph_(graph), engine_(engine) {
    layouts_.resize(graph.values().size());
  }

  LayoutAssignment run(std::span<const ValueId> plain_after_run) {
    std::vector<bool> must_end_plain(graph_.values().size(), false);
    for (ValueId v : plain_after_run) must_end_plain[size_t(v)] = true;
    const std::vector<Node> original(graph_.nodes().begin(), graph_.nodes().end());
    for (Node node : original) {
      LayoutNegotiation negotiation(engine_, graph_, node, layouts_);
      node.op->negotiate_layouts(node, negotiation);
      for (size_t i = 0; i < node.inputs.size(); ++i) {
        node.inputs[i] = in_layout(node.inputs[i], negotiation.wanted()[i], node.backward);
      }
      std::vector<Node> after;  // reorders of outputs that must end the step plain
      for (size_t k = 0; k < node.outputs.size(); ++k) {
        const ValueId output = node.outputs[k];
        const Layout& layout = negotiation.produced()[k];
        if (!layout.is_plain() && must_end_plain[size_t(output)]) {
          after.push_back(write_through_reorder(node, k, layout));
        } else {
          layouts_[size_t(output)] = layout;
        }
      }
      nodes_.push_back(std::move(node));
      for (Node& reorder : after) nodes_.push_back(std::move(reorder));
    }
    graph_.replace_nodes(std::move(nodes_));
    layouts_.resize(graph_.values().size());
    return {std::move(layouts_), reorders_};
  }

 private:
  struct Reordered {
    Layout layout;
    ValueId to;
  };

  // `value` as a reader wanting `wanted` sees it: itself, or a reorder of it (made once).
  ValueId in_layout(ValueId value, const Layout& wanted, bool backward) {
    if (layouts_[size_t(value)].compatible(wanted)) return value;
    if (const auto made = reordered_.find(value); made != reordered_.end()) {
      for (const Reordered& r : made->second) {
        if (r.layout.compatible(wanted)) return r.to;
      }
    }
    const Layout& current = layouts_[size_t(value)];
    if (current.is_opaque() != wanted.is_opaque() ||
        (!current.is_plain() && !wanted.is_plain() &&
         current.native().dims() != wanted.native().dims())) {
      // Two formats seen in different dims (or an opaque one) meet through plain.
      if (current.is_opaque() || wanted.is_opaque()) {
        throw RuntimeError("value '" + graph_.value(value).name + "' in layout " +
                           current.describe() + " cannot be reordered to " + wanted.describe());
      }
      return in_layout(in_layout(value, Layout(), backward), wanted, backward);
    }
    const ValueId reordered = add_reorder(value, backward);
    nodes_.push_back(graph_.nodes().back());
    layouts_[size_t(reordered)] = wanted;
    reordered_[value].push_back({wanted, reordered});
    return reordered;
  }

  // Output k of `node` is produced in `layout` but must end the step plain: the node writes a
  // new value instead, and the returned reorder node writes the original one, plain.
  Node write_through_reorder(Node& node, size_t k, const Layout& layout) {
    const ValueId output = node.outputs[k];
    const ValueId native = add_reorder(output, node.backward);
    Node reorder = graph_.nodes().back();
    node.outputs[k] = native;
    reorder.inputs = {native};
    reorder.outputs = {output};
    layouts_[size_t(native)] = layout;
    layouts_[size_t(output)] = Layout();
    reordered_[output].push_back({layout, native});
    return reorder;
  }

  // Appends a reorder node reading `value` to the graph (the pass moves it into place) and
  // returns its output.
  ValueId add_reorder(ValueId value, bool backward) {
    const std::string name = graph_.unique_name(graph_.value(value).name + "/reorder");
    const ValueId output = graph_.add_node1(name, "reorder", {value}, {}, backward);
    layouts_.resize(graph_.values().size());
    ++reorders_;
    return output;
  }

  Graph& graph_;
  const dnnl::engine& engine_;
  std::vector<Layout> layouts_;
  std::vector<Node> nodes_;
  // By the value reordered: a graph may have many (one per convolution), and each reader
  // looks its value up.
  std::unordered_map<ValueId, std::vector<Reordered>> reordered_;
  int reorders_ = 0;
};

}  // namespace

LayoutPolicy layout_policy_from_environment() {
  const char* value = std::getenv("LOOM_LAYOUTS");
  if (value == nullptr || std::string_view(value) == "negotiated") return LayoutPolicy::negotiated;
  if (std::string_view(value) == "plain") return LayoutPolicy::plain;
  throw InputError("LOOM_LAYOUTS: expected 'negotiated' or 'plain', got '" + std::string(value) +
                   "'");
}

LayoutAssignment assign_layouts(Graph& graph, const dnnl::engine& engine,
                                std::span<const ValueId> plain_after_run, LayoutPolicy policy) {
  if (policy == LayoutPolicy::plain) return {std::vector<Layout>(graph.values().size()), 0};
  return LayoutPass(graph, engine).run(plain_after_run);
}

}  // namespace loom
