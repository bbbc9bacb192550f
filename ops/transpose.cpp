// transpose(x) with attribute perm: output dimension i is input dimension perm[i] (Keras's
// ops.transpose; the default reverses the dimensions). A oneDNN reorder from x viewed with
// permuted strides; the gradient transposes dy by the inverse permutation.

#include <numeric>

#include "engine/exec/compile_context.hpp"
#include "engine/exec/primitive_kernel.hpp"
#include "engine/graph/op.hpp"
#include "ops/reference_common.hpp"

namespace loom {

namespace {

std::vector<int64_t> permutation(const Node& node, int64_t rank) {
  std::vector<int64_t> perm(static_cast<size_t>(rank));
  std::iota(perm.rbegin(), perm.rend(), 0);  // default: reversed
  perm = node.attributes.get_ints("perm", perm);
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  if (std::ssize(perm) != rank) {
    fail_node(node, "perm has " + std::to_string(perm.size()) + " entries for rank " +
                        std::to_string(rank));
  }
  for (int64_t axis : perm) {
    if (axis < 0 || axis >= rank || seen[size_t(axis)]) {
      fail_node(node, "perm must list each axis 0.." + std::to_string(rank - 1) + " once");
    }
    seen[size_t(axis)] = true;
  }
  return perm;
}

class Transpose final : public Op {
 public:
  std::string_view name() const override { return "transpose"; }
  OpSignature signature() const override {
    return {
        .inputs = {"x"},
        .attributes = {{"perm", AttributeKind::integers, "output axis i = input axis perm[i]"}}};
  }

  std::vector<TensorType> infer(const Node& node,
                                std::span<const TensorType> inputs) const override {
    expect_dtype(node, inputs, 0, DType::f32);
    const std::vector<int64_t> perm = permutation(node, inputs[0].rank());
    Shape shape;
    for (int64_t axis : perm) shape.push_back(inputs[0].shape[size_t(axis)]);
    return {TensorType{DType::f32, shape}};
  }

  std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const override {
    const TensorType& x = context.type(node.inputs[0]);
    const std::vector<int64_t> perm = permutation(node, x.rank());
    dnnl::memory::dims x_strides(x.shape.size(), 1);
    for (size_t i = x.shape.size(); i-- > 1;) x_strides[i - 1] = x_strides[i] * x.shape[i];
    dnnl::memory::dims dims, strides;
    for (int64_t axis : perm) {
      dims.push_back(x.shape[size_t(axis)]);
      strides.push_back(x_strides[size_t(axis)]);
    }
    const dnnl::memory::desc view(dims, dnnl::memory::data_type::f32, strides);
    const auto y_desc = plain_desc(context.type(node.outputs[0]));
    return make_reorder_kernel(context, node.inputs[0], view, node.outputs[0], y_desc);
  }

  // y[i_0, ..., i_n] = x at the index whose axis perm[d] is i_d.
  bool has_reference() const override { return true; }
  void reference(const ReferenceCall& call) const override {
    const Shape& x = call.input_shape(0);
    const Shape& y = call.output_shape(0);
    const std::vector<int64_t> perm = permutation(call.node, int64_t(x.size()));
    const std::vector<int64_t> x_strides = row_major_strides(x);
    for (int64_t i = 0; i < numel(y); ++i) {
      const std::vector<int64_t> index = unravel(i, y);
      std::vector<int64_t> x_index(x.size());
      for (size_t d = 0; d < perm.size(); ++d) x_index[size_t(perm[d])] = index[d];
      call.outputs[0][size_t(i)] = call.inputs[0][size_t(offset_of(x_index, x_strides))];
    }
  }

  std::vector<std::optional<ValueId>> gradient(GradientBuilder& builder,
                                               const GradientRequest& request) const override {
    const std::vector<int64_t> perm =
        permutation(request.node, builder.graph().value(request.node.inputs[0]).type.rank());
    std::vector<int64_t> inverse(perm.size());
    for (size_t i = 0; i < perm.size(); ++i) inverse[size_t(perm[i])] = int64_t(i);
    return {
        builder.emit(request.node, "transpose", {request.output_gradient()}, {{"perm", inverse}})};
  }
};

}  // namespace

void register_transpose(OpRegistry& registry) {
  registry.add(std::make_unique<Transpose>());
}

}  // namespace loom
