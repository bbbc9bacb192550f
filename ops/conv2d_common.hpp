#pragma once
// What conv2d and its two backward ops (conv2d.cpp, conv2d_backward.cpp) share: a
// convolution's geometry from the node's attributes, and the oneDNN descriptors and layouts
// its three primitives are made with.
//
// Layouts: each of the three primitives is described with format_tag::any and negotiates the
// formats oneDNN chose (typically channels blocked by 16 for data, and a blocked kernel), so
// its AVX-512 direct kernels run instead of the gemm-based ones plain layouts get (2-4x
// slower for these shapes). Activations stay blocked from one convolution or pooling to the
// next; the plan reorders only where a plain reader or writer meets them (the kernel from the
// parameter store, its gradient back to it, a flatten).

#include <optional>

#include "engine/exec/compile_context.hpp"
#include "engine/exec/layout.hpp"
#include "engine/exec/primitive_kernel.hpp"
#include "ops/window_common.hpp"

namespace loom::conv {

using Tag = dnnl::memory::format_tag;

// A kernel [KH, KW, I/G, O] as oneDNN's (O, I/G, KH, KW) dims, or with G groups its grouped
// (G, O/G, I/G, KH, KW) dims; in `tag`, or without one, as the kernel's plain bytes (hwio,
// where a group's filters lie side by side within each input channel's row).
dnnl::memory::desc kernel_desc(const Shape& shape, int64_t groups, std::optional<Tag> tag = {});

// The forward op's attributes; a backward op's add the forward operand's shape as `shape_name`.
std::vector<AttributeSpec> conv_attributes();
std::vector<AttributeSpec> backward_attributes(const char* shape_name);

// Checks the operands and returns the window for x [N, H, W, C] and kernel [KH, KW, C/G, O].
Window conv_window(const Node& node, const Shape& x, const Shape& kernel);
Shape conv_output_shape(const Shape& x, const Shape& kernel, const Window& w);

// One convolution's geometry: what its forward and both backward primitives are made from.
struct ConvGeometry {
  Shape x, kernel, y;
  Window window;
  int64_t groups = 1;
  bool bias = false;
  bool relu = false;
};

// The geometry of the node's convolution (for a backward op, of its forward convolution:
// the attributes are the forward's, with the activation set to none).
ConvGeometry geometry(const Node& node, const Shape& x, const Shape& kernel, bool bias);

dnnl::memory::desc bias_desc(const ConvGeometry& g);

// The formats a convolution's primitives are made with: format_tag::any while layouts are
// negotiated (oneDNN chooses), then, when the node is compiled, the layouts the plan settled
// on (the same choices, or plain nhwc / hwio in a plan with plain layouts only).
struct ConvDescs {
  dnnl::memory::desc x, kernel, y;
};

ConvDescs any_descs(const ConvGeometry& g);

// The formats a compiled primitive is built with: what oneDNN chose while negotiating when the
// plan holds every operand arranged that way (so nchw stands for a one-channel nhwc image),
// else what the plan holds (a plan with plain layouts only: mixing the two would leave oneDNN
// with no fast kernel).
ConvDescs compiled_descs(const ConvGeometry& g, const CompileContext& context, ValueId x,
                         ValueId kernel, ValueId y, const ConvDescs& chosen);

// Winograd or direct: the forward pass and the weight gradient run oneDNN's Winograd kernel
// (F(4x4, 3x3): 2.25 times fewer multiplications, AVX-512 only in oneDNN 2.6) for a 3x3
// kernel at stride 1 without dilation or groups, on input and output channels in whole
// blocks of 16, wherever oneDNN has it for the formats and
// CPU, else the direct kernel. Measured against direct on AVX-512 (2 threads, forward / weight
// gradient, ms): the book convnet's conv2d_1 1.07 / 1.33 vs 1.59 / 1.78, its conv2d_2
// 0.33 / 0.34 vs 0.34 / 0.66, 64 channels on 32x32 images 5.2 / 5.9 vs 10.2 / 11.5. Its
// rounding differs from the direct sum's: the forward's error, relative to the sum of the
// products' magnitudes, was up to 1.5e-6 (direct: 3e-7), the weight gradient's no larger
// than direct's. The data gradient stays direct: there Winograd was slower for the book's
// shapes (2.0 vs 1.5 ms, and 0.87 vs 0.28 ms on conv2d_2's 5x5 images) and faster only on
// larger images, so one fixed rule per pass keeps every run of a config on the same kernels.
bool winograd_applies(const ConvGeometry& g);

// Builds a pass's primitive with `build(algorithm, allow_empty)`: Winograd where it applies
// and oneDNN implements it (an empty primitive descriptor says it does not), else direct.
template <class Build>
auto winograd_or_direct(const ConvGeometry& g, Build build) {
  if (winograd_applies(g)) {
    auto primitive = build(dnnl::algorithm::convolution_winograd, true);
    if (primitive) return primitive;
  }
  return build(dnnl::algorithm::convolution_direct, false);
}

// The forward primitive on the given formats; a backward primitive takes it, on its own
// formats, as its hint (a hint in other formats makes oneDNN fall back to reference kernels).
dnnl::convolution_forward::primitive_desc forward_primitive(const ConvGeometry& g,
                                                            const ConvDescs& d,
                                                            const dnnl::engine& engine);

Layout image_layout(const dnnl::memory::desc& chosen, const Shape& shape);
Layout kernel_layout(const dnnl::memory::desc& chosen, const ConvGeometry& g);

// The multiply-adds (as 2 FLOPs each) of a convolution whose output, or output gradient, is
// `y` with an hwio `kernel`: every output element meets each of its group's taps. The forward
// pass and both gradients do the same work.
inline int64_t convolution_flops(const Shape& y, const Shape& kernel) {
  return 2 * numel(y) * kernel[0] * kernel[1] * kernel[2];
}

}  // namespace loom::conv

namespace loom {
// Registers conv2d_backward_data and conv2d_backward_weights (conv2d_backward.cpp).
void register_conv2d_backward(OpRegistry& registry);
}  // namespace loom
