// max_pool2d_backward(dy, x, y): d loss / dx of max_pool2d, the engine's own loop.
//
// Each window's gradient goes to its winner: the first tap, in row-major order over the window
// and skipping taps in the padding, whose value equals the window's maximum y. That is the tap
// oneDNN's and PyTorch's kernels pick (a later tap wins only when strictly greater), so ties,
// as a relu's zeros make, resolve the same way. Where windows overlap a tap collects
// the gradients of every window it won; a tap no window won gets zero; a window whose maximum
// is NaN routes nothing.
//
// With through_relu (set by the fuse_max_pool_relu_backward pass, engine/graph/passes.hpp) x is
// a relu's output and dx is taken through the relu too: a window passes its gradient only when
// its maximum is positive.
//
// Finding the winner again from x and y, rather than recording it in the forward pass, lets
// the forward run oneDNN's inference kernel (see ops/pooling.cpp). The loop reads x, y and dy
// and writes dx in the layout x arrives in, channels last or a convolution's blocked nChw16c,
// a group of channels side by side per position, vectorized across them; the images and
// channel groups are spread over the threads, each writing only its own part of dx, so the
// result does not depend on the thread count.

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "engine/core/parallel.hpp"
#include "engine/exec/compile_context.hpp"
#include "engine/exec/layout.hpp"
#include "engine/exec/loop_kernel.hpp"
#include "ops/pool_common.hpp"

namespace loom {

namespace {

// Lanes handled together: 16 floats, one AVX-512 register or two AVX2 ones.
constexpr int64_t kLanes = 16;

// Where element (image n, channel group g, row h, column w) of an image held in a
// channels-contiguous format lies; a group's lanes follow it. Strides count elements.
struct ImageWalk {
  int64_t offset0 = 0, image = 0, group = 0, row = 0, column = 0;
  int64_t lanes = 0;   // channels per group: the block, or every channel when channels last
  int64_t groups = 0;  // including a blocked format's padded last group
  int64_t last = 0;    // a group's last position, from its first

  explicit ImageWalk(const dnnl::memory::desc& desc) {
    const dnnl_memory_desc_t& d = desc.data;
    const dnnl_blocking_desc_t& blocking = d.format_desc.blocking;
    offset0 = d.offset0;
    image = blocking.strides[0];
    row = blocking.strides[2];
    column = blocking.strides[3];
    const bool blocked = blocking.inner_nblks == 1;
    lanes = blocked ? blocking.inner_blks[0] : d.padded_dims[1];
    groups = d.padded_dims[1] / lanes;
    group = blocked ? blocking.strides[1] : 0;
    last = (d.dims[2] - 1) * row + (d.dims[3] - 1) * column;
  }
  int64_t at(int64_t n, int64_t g, int64_t h, int64_t w) const {
    return offset0 + n * image + g * group + h * row + w * column;
  }
};

// The window's taps inside the image, as [begin, end) along one axis, for output position `out`.
struct TapRange {
  int64_t first_position, begin, end;
};
TapRange taps(const Window& w, int axis, int64_t input, int64_t out) {
  const int64_t start = out * w.strides[axis] - w.axes[axis].pad_begin;
  return {start, std::max<int64_t>(0, -start), std::min(w.kernel[axis], input - start)};
}

struct Geometry {
  Window window;
  int64_t height = 0, width = 0, channels = 0;
  ImageWalk x, y;  // dx is held as x is, dy as y is
  // No two windows share an element of x (strides at least the pool size), so the windows
  // write dx rather than add to it, and only the rows and columns no window covers (a
  // remainder, the gaps of larger strides) are cleared first; otherwise all of dx is.
  bool disjoint = false;
  std::vector<int64_t> uncovered_rows, uncovered_columns;
  bool through_relu = false;
  // x is long out of cache by the backward pass: fetching the taps two window rows ahead
  // (elements) took the book convnet's first pool from 1.04 to 0.6-0.7 ms.
  int64_t prefetch_ahead = 0;
};

// One window's lanes: `count` channels side by side from these addresses; lanes from `real`
// on are a blocked format's padding channels and get zeros.
struct WindowLanes {
  const float *x, *y, *dy;
  float* dx;
  int64_t count, real;
};

// One window over its lanes (kCount of them when fixed at compile time, for the 16 or 8
// channels of a blocked group): finds the winner among its taps and writes (kAssign) or adds
// the gradient there, zero at the other taps.
template <int64_t kCount, bool kAssign>
void route_window(const Geometry& geometry, const WindowLanes& lanes, TapRange rows,
                  TapRange columns) {
  // (Everything the loops read, in locals: the compiler then keeps it in registers.)
  const int64_t row = geometry.x.row, column = geometry.x.column, last = geometry.x.last;
  const int64_t ahead = geometry.prefetch_ahead, real = lanes.real;
  const bool through_relu = geometry.through_relu;
  const int64_t n = kCount > 0 ? kCount : lanes.count;
  const float *x = lanes.x, *y = lanes.y, *dy = lanes.dy;
  float* dx = lanes.dx;
  float best[kLanes], gradient[kLanes];
  int open[kLanes];
#pragma omp simd
  for (int64_t l = 0; l < n; ++l) {
    best[l] = y[l];
    gradient[l] = l < real && (!through_relu || y[l] > 0.f) ? dy[l] : 0.f;
    open[l] = 1;
  }
  for (int64_t kh = rows.begin; kh < rows.end; ++kh) {
    for (int64_t kw = columns.begin; kw < columns.end; ++kw) {
      const int64_t at = (rows.first_position + kh) * row + (columns.first_position + kw) * column;
      // (No further than the group's last position, so the address stays inside the buffer.)
      const int64_t next = std::min(at + ahead, last);
      __builtin_prefetch(x + next);
      __builtin_prefetch(dx + next, 1);
#pragma omp simd
      for (int64_t l = 0; l < n; ++l) {
        const int won = open[l] & int(x[at + l] == best[l]);
        const float value = won ? gradient[l] : 0.f;
        if constexpr (kAssign) {
          dx[at + l] = value;
        } else {
          dx[at + l] += value;
        }
        open[l] &= ~won;
      }
    }
  }
}

// dx for image n's channel group g.
template <bool kAssign>
void route_group(const Geometry& geometry, const float* dy, const float* x, const float* y,
                 float* dx, int64_t n, int64_t g) {
  const Window& w = geometry.window;
  const ImageWalk &xw = geometry.x, &yw = geometry.y;
  const int64_t first_lane = g * xw.lanes;
  const float* x_group = x + xw.at(n, g, 0, 0);
  float* dx_group = dx + xw.at(n, g, 0, 0);
  const auto clear = [&](int64_t h, int64_t v) {
    std::fill_n(dx_group + h * xw.row + v * xw.column, xw.lanes, 0.f);
  };
  if constexpr (kAssign) {
    for (const int64_t h : geometry.uncovered_rows) {
      for (int64_t v = 0; v < geometry.width; ++v) clear(h, v);
    }
    for (const int64_t v : geometry.uncovered_columns) {
      for (int64_t h = 0; h < geometry.height; ++h) clear(h, v);
    }
  } else {
    for (int64_t h = 0; h < geometry.height; ++h) {
      for (int64_t v = 0; v < geometry.width; ++v) clear(h, v);
    }
  }
  for (int64_t i = 0; i < w.axes[0].output; ++i) {
    const TapRange rows = taps(w, 0, geometry.height, i);
    for (int64_t j = 0; j < w.axes[1].output; ++j) {
      const TapRange columns = taps(w, 1, geometry.width, j);
      const int64_t out = yw.at(n, g, i, j);
      for (int64_t lane = 0; lane < xw.lanes; lane += kLanes) {
        const WindowLanes lanes{.x = x_group + lane,
                                .y = y + out + lane,
                                .dy = dy + out + lane,
                                .dx = dx_group + lane,
                                .count = std::min(kLanes, xw.lanes - lane),
                                .real = geometry.channels - first_lane - lane};
        switch (lanes.count) {
          case kLanes:
            route_window<kLanes, kAssign>(geometry, lanes, rows, columns);
            break;
          case kLanes / 2:  // AVX2's nChw8c
            route_window<kLanes / 2, kAssign>(geometry, lanes, rows, columns);
            break;
          default:
            route_window<0, kAssign>(geometry, lanes, rows, columns);
        }
      }
    }
  }
}

template <bool kAssign>
void route(const Geometry& geometry, const float* dy, const float* x, const float* y, float* dx,
           int64_t images) {
  const int64_t groups = geometry.x.groups, items = images * groups;
  const bool parallel =
      images * geometry.height * geometry.width * geometry.channels >= kParallelElements;
  if (parallel) {
#pragma omp parallel for schedule(static)
    for (int64_t item = 0; item < items; ++item) {
      route_group<kAssign>(geometry, dy, x, y, dx, item / groups, item % groups);
    }
  } else {
    for (int64_t item = 0; item < items; ++item) {
      route_group<kAssign>(geometry, dy, x, y, dx, item / groups, item % groups);
    }
  }
}

// The positions along one axis (of `input`) that no window covers.
std::vector<int64_t> uncovered(const Window& w, int axis, int64_t input) {
  std::vector<int64_t> positions;
  for (int64_t p = 0; p < input; ++p) {
    const int64_t shifted = p + w.axes[axis].pad_begin, out = shifted / w.strides[axis];
    if (out >= w.axes[axis].output || shifted - out * w.strides[axis] >= w.kernel[axis]) {
      positions.push_back(p);
    }
  }
  return positions;
}

// x's layout when the loop can walk it in the pooling's own format (one of those same_format
// knows, with channels side by side); otherwise plain.
Layout walkable(const Layout& arriving, const Shape& x) {
  if (arriving.is_plain() || arriving.is_opaque()) return Layout();
  const dnnl::memory::desc desc = same_format(arriving.native(), x);
  return same_arrangement(desc, arriving.native()) && channels_contiguous(desc) ? arriving
                                                                                : Layout();
}

class MaxPoolBackward final : public Op {
 public:
  std::string_view name() const override { return "max_pool2d_backward"; }
  OpSignature signature() const override {
    std::vector<AttributeSpec> attributes = window_attributes(true);
    attributes.push_back({"through_relu", AttributeKind::boolean,
                          "x is a relu's output: dx through the relu as well"});
    return {.inputs = {"dy", "x", "y"}, .attributes = attributes, .internal = true};
  }

  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override {
    for (size_t i = 0; i < 3; ++i) expect_dtype(node, inputs, i, DType::f32);
    const Shape& x = inputs[1].shape;
    const Shape y = pooled_shape(x, pool_window(node, x));
    if (inputs[0].shape != y || inputs[2].shape != y) {
      fail_node(node, "expected dy and y " + to_string(y) + " for x " + to_string(x) + ", got " +
                          to_string(inputs[0].shape) + " and " + to_string(inputs[2].shape));
    }
    return {TensorType{DType::f32, x}};
  }

  // x, dx in x's layout when walkable; y and dy in the same format.
  void negotiate_layouts(const Node& node, LayoutNegotiation& negotiation) const override {
    const Shape& x = negotiation.type(node.inputs[1]).shape;
    const Layout layout = walkable(negotiation.incoming(1), x);
    if (layout.is_plain()) return;  // every value plain: channels last
    const Shape y = pooled_shape(x, pool_window(node, x));
    const Layout pooled = Layout::chosen(same_format(layout.native(), y), nhwc_desc(y));
    negotiation.want(0, pooled);
    negotiation.want(1, layout);
    negotiation.want(2, pooled);
    negotiation.produce(0, layout);
  }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const Shape& x = context.type(node.inputs[1]).shape;
    const Window window = pool_window(node, x);
    const Shape y = pooled_shape(x, window);
    const auto x_desc = context.held_desc(node.inputs[1], nhwc_desc(x));
    const auto y_desc = context.held_desc(node.inputs[2], nhwc_desc(y));
    const ImageWalk x_walk(x_desc);
    const Geometry geometry{
        .window = window,
        .height = x[1],
        .width = x[2],
        .channels = x[3],
        .x = x_walk,
        .y = ImageWalk(y_desc),
        .disjoint = window.strides[0] >= window.kernel[0] && window.strides[1] >= window.kernel[1],
        .uncovered_rows = uncovered(window, 0, x[1]),
        .uncovered_columns = uncovered(window, 1, x[2]),
        .through_relu = node.attributes.get_bool("through_relu", false),
        .prefetch_ahead = 2 * window.strides[0] * x_walk.row};
    if (!same_arrangement(x_desc, context.held_desc(node.outputs[0], nhwc_desc(x))) ||
        !same_arrangement(y_desc, context.held_desc(node.inputs[0], nhwc_desc(y))) ||
        geometry.x.lanes != geometry.y.lanes) {
      throw std::logic_error(node.name + ": dx must be held as x and dy as y, in one format");
    }
    const float* dy = context.f32(node.inputs[0]);
    const float* xs = context.f32(node.inputs[1]);
    const float* ys = context.f32(node.inputs[2]);
    float* dx = context.f32(node.outputs[0]);
    const int64_t images = x[0];
    if (geometry.disjoint) {
      return make_loop_kernel([=] { route<true>(geometry, dy, xs, ys, dx, images); });
    }
    return make_loop_kernel([=] { route<false>(geometry, dy, xs, ys, dx, images); });
  }
};

}  // namespace

void register_max_pool2d_backward(OpRegistry& registry) {
  registry.add(std::make_unique<MaxPoolBackward>());
}

}  // namespace loom
