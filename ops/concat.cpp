// concat(x0, x1, ...) with attribute axis (default -1): joins tensors that agree on every
// other dimension (Keras's ops.concatenate); oneDNN's concat primitive. The gradient of each
// input is its slice of dy (the internal op slice, a oneDNN reorder from a sub-memory view).

#include "engine/core/checked.hpp"
#include "engine/exec/compile_context.hpp"
#include "engine/exec/primitive_kernel.hpp"
#include "engine/graph/op.hpp"

namespace loom {

namespace {

int64_t concat_axis(const Node& node, int64_t rank) {
  return normalize_axis(node, node.attributes.get_int("axis", -1), rank);
}

class Concat final : public Op {
 public:
  std::string_view name() const override { return "concat"; }
  OpSignature signature() const override {
    return {
        .inputs = {"x"},
        .variadic = true,
        .attributes = {{"axis", AttributeKind::integer, "the axis to join along (default -1)"}}};
  }

  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override {
    expect_dtype(node, inputs, 0, DType::f32);
    if (inputs[0].rank() < 1) fail_node(node, "cannot concatenate scalars");
    const auto axis = size_t(concat_axis(node, inputs[0].rank()));
    Shape shape = inputs[0].shape;
    for (size_t i = 1; i < inputs.size(); ++i) {
      Shape other = inputs[i].shape;
      if (other.size() != shape.size() || inputs[i].dtype != DType::f32) {
        fail_node(node, "input " + std::to_string(i) + " is " + to_string(inputs[i]) +
                            ", input 0 is " + to_string(inputs[0]));
      }
      const int64_t extent = other[axis];
      other[axis] = shape[axis];
      if (other != shape) {
        fail_node(node, "input " + std::to_string(i) + " " + to_string(inputs[i]) +
                            " differs from input 0 " + to_string(inputs[0]) + " outside axis " +
                            std::to_string(axis));
      }
      shape[axis] = checked_add(shape[axis], extent, "the joined axis");
    }
    return {TensorType{DType::f32, shape}};
  }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const auto axis = int(concat_axis(node, context.type(node.outputs[0]).rank()));
    std::vector<dnnl::memory::desc> sources;
    std::vector<std::pair<int, dnnl::memory>> arguments;
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      sources.push_back(plain_desc(context.type(node.inputs[i])));
      arguments.emplace_back(DNNL_ARG_MULTIPLE_SRC + int(i), context.memory(node.inputs[i]));
    }
    const auto y_desc = plain_desc(context.type(node.outputs[0]));
    arguments.emplace_back(DNNL_ARG_DST, context.memory(node.outputs[0]));
    const dnnl::concat::primitive_desc descriptor(y_desc, axis, sources, context.engine(),
                                                  kernel_attributes());
    return std::make_unique<PrimitiveKernel>(descriptor, dnnl::concat(descriptor),
                                             std::move(arguments), context);
  }

  // Row-major, the output is, for each index before the axis, every input's block (its extent
  // along the axis times everything after it) one after the other.
  bool has_reference() const override { return true; }
  void reference(const ReferenceCall& call) const override {
    const Shape& y = call.output_shape(0);
    const auto axis = size_t(concat_axis(call.node, int64_t(y.size())));
    const int64_t outer = numel(Shape(y.begin(), y.begin() + std::ptrdiff_t(axis)));
    const int64_t inner = numel(Shape(y.begin() + std::ptrdiff_t(axis) + 1, y.end()));
    size_t written = 0;
    for (int64_t o = 0; o < outer; ++o) {
      for (size_t k = 0; k < call.inputs.size(); ++k) {
        const int64_t block = call.input_shape(k)[axis] * inner;
        for (int64_t j = 0; j < block; ++j) {
          call.outputs[0][written++] = call.inputs[k][size_t(o * block + j)];
        }
      }
    }
  }

  std::vector<std::optional<ValueId>> gradient(GradientBuilder& builder,
                                               const GradientRequest& request) const override {
    const Node& node = request.node;
    const int64_t axis = concat_axis(node, builder.graph().value(node.outputs[0]).type.rank());
    std::vector<std::optional<ValueId>> gradients;
    int64_t begin = 0;
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const int64_t size = builder.graph().value(node.inputs[i]).type.shape[size_t(axis)];
      gradients.push_back(
          request.wanted[i]
              ? std::optional(builder.emit(node, "slice", {request.output_gradient()},
                                           {{"axis", axis}, {"begin", begin}, {"size", size}}))
              : std::nullopt);
      begin += size;
    }
    return gradients;
  }
};

// slice(x) with attributes axis, begin, size: x[..., begin:begin+size, ...] along axis.
class Slice final : public Op {
 public:
  std::string_view name() const override { return "slice"; }
  OpSignature signature() const override {
    return {.inputs = {"x"},
            .attributes = {{"axis", AttributeKind::integer, "the axis to cut"},
                           {"begin", AttributeKind::integer, "the first index kept"},
                           {"size", AttributeKind::integer, "how many indices are kept"}},
            .internal = true};
  }

  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override {
    const auto axis = size_t(node.attributes.get_int("axis", 0));
    const int64_t begin = node.attributes.get_int("begin", 0);
    const int64_t size = node.attributes.get_int("size", 0);
    // Compared without adding: begin + size can wrap around (a size of 2^63-1).
    if (axis >= inputs[0].shape.size() || begin < 0 || size <= 0 || begin > inputs[0].shape[axis] ||
        size > inputs[0].shape[axis] - begin) {
      fail_node(node, "slice of begin " + std::to_string(begin) + " and size " +
                          std::to_string(size) + " on axis " + std::to_string(axis) +
                          " is out of range of " + to_string(inputs[0]));
    }
    Shape shape = inputs[0].shape;
    shape[axis] = size;
    return {TensorType{inputs[0].dtype, shape}};
  }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const auto x_desc = plain_desc(context.type(node.inputs[0]));
    const auto y_desc = plain_desc(context.type(node.outputs[0]));
    dnnl::memory::dims offsets(y_desc.dims().size(), 0);
    offsets[size_t(node.attributes.get_int("axis", 0))] = node.attributes.get_int("begin", 0);
    const auto view = x_desc.submemory_desc(y_desc.dims(), offsets);
    return make_reorder_kernel(context, node.inputs[0], view, node.outputs[0], y_desc);
  }
};

}  // namespace

void register_concat(OpRegistry& registry) {
  registry.add(std::make_unique<Concat>());
  registry.add(std::make_unique<Slice>());
}

}  // namespace loom
