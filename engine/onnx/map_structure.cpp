// ONNX ops that move values around: Identity, Constant, Dropout, Flatten, Reshape, Transpose,
// Concat, Softmax and the reductions. Each keeps the batch axis first or is refused.

#include <algorithm>
#include <numeric>

#include "engine/core/checked.hpp"
#include "engine/onnx/node_context.hpp"

namespace loom {

namespace {

int64_t product(const Shape& shape, size_t begin, size_t end) {
  int64_t result = 1;
  for (size_t i = begin; i < end; ++i) result *= shape[i];
  return result;
}

// `shape` for the engine's reshape of `value`: its batch axis left to the batch size (-1)
// when the value has one, which the new shape must keep first.
Shape batch_free(NodeContext& node, const std::string& value, Shape shape) {
  if (!node.batch_major(value)) return shape;
  const int64_t batch = node.shape(value)[0];
  if (shape.empty() || shape[0] != batch) {
    node.refuse("the new shape " + to_string(shape) + " of '" + value + "' " +
                to_string(node.shape(value)) +
                " does not keep axis 0, the batch axis; the engine's models keep it first");
  }
  shape[0] = -1;
  return shape;
}

void map_identity(NodeContext& node) {
  node.accept_attributes({});
  node.expect_inputs(1, 1);
  if (node.is_channels_last(0)) {
    node.alias_channels_last(0, node.channels_last(0, "Identity"));
  } else {
    node.alias(0, node.value(0));
  }
}

// Dropout: the engine drops out while it trains and passes values through otherwise, as
// Keras and PyTorch's model.train()/eval() do. Opsets 7-11 give the ratio as an attribute,
// 12 on as an input; a Dropout that must also drop at inference (training_mode true) or
// whose mask is read has no engine counterpart.
void map_dropout(NodeContext& node) {
  node.accept_attributes({"ratio", "seed"});
  node.expect_inputs(1, 3);
  double ratio = node.real("ratio", 0.5);
  if (node.has_input(1)) ratio = node.real_scalar(1);
  if (node.has_input(2) && node.integer_scalar(2) != 0) {
    node.refuse(
        "training_mode true drops values at inference too; the engine drops them "
        "only while it trains");
  }
  if (node.has_output(1)) node.refuse("its mask output is read; the engine keeps the mask");
  if (ratio < 0.0 || ratio >= 1.0)
    node.refuse("ratio " + std::to_string(ratio) + " is not in [0, 1)");
  // Without a seed of its own, each dropout node draws its own stream, as Keras's layers do.
  const int64_t seed = node.integer("seed", 7919 * (node.nodes_emitted() + 1));
  node.emit_elementwise("dropout", {{"rate", ratio}, {"seed", seed}});
}

// Flatten(axis): [d0 ... d(axis-1), d(axis) ...] -> [d0·...·d(axis-1), d(axis)·...].
void map_flatten(NodeContext& node) {
  node.accept_attributes({"axis"});
  node.expect_inputs(1, 1);
  const std::string x = node.value(0);
  const Shape& shape = node.shape(x);
  const int64_t rank = int64_t(shape.size());
  const int64_t axis = node.integer("axis", 1);
  if (axis < -rank || axis > rank) node.refuse("axis " + std::to_string(axis) + " is out of range");
  const size_t split = size_t(axis < 0 ? axis + rank : axis);
  if (split == 1 && node.batch_major(x)) {
    node.emit("flatten", {x});
    return;
  }
  const Shape out = {product(shape, 0, split), product(shape, split, shape.size())};
  node.emit("reshape", {x}, {{"shape", batch_free(node, x, out)}});
}

// The new shape of ONNX Reshape: 0 copies the input's extent (unless allowzero), one -1 is
// inferred.
Shape reshape_target(NodeContext& node, const Shape& input, std::vector<int64_t> target) {
  const bool allow_zero = node.integer("allowzero", 0) != 0;
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i] == 0 && !allow_zero) {
      if (i >= input.size()) node.refuse("shape entry " + std::to_string(i) + " copies no axis");
      target[i] = input[i];
    }
  }
  const auto unknown = std::ranges::count(target, -1);
  if (unknown > 1) node.refuse("more than one -1 in the shape " + to_string(target));
  int64_t known = 1;
  for (int64_t extent : target) {
    if (extent < -1) node.refuse("negative extent in the shape " + to_string(target));
    if (extent >= 0) known = checked_mul(known, extent, node.where() + ": the shape");
  }
  if (unknown == 1) {
    if (known == 0 || numel(input) % known != 0) {
      node.refuse("cannot reshape " + to_string(input) + " to " + to_string(target));
    }
    *std::ranges::find(target, -1) = numel(input) / known;
  }
  if (numel(target) != numel(input)) {
    node.refuse("cannot reshape " + to_string(input) + " to " + to_string(target));
  }
  return target;
}

void map_reshape(NodeContext& node) {
  node.accept_attributes({"allowzero"});
  node.expect_inputs(2, 2);
  const std::string x = node.value(0);
  const Shape target = reshape_target(node, node.shape(x), node.integer_constant(1));
  if (target.empty() || std::ranges::find(target, 0) != target.end()) {
    node.refuse("the engine does not reshape to " + to_string(target) +
                " (no scalars, no empty tensors)");
  }
  node.emit("reshape", {x}, {{"shape", batch_free(node, x, target)}});
}

// An image moved between the two layouts (an exported engine model's own boundaries) is
// the channels-last value it was or will be: no node, and none where an image op reads it.
void map_transpose(NodeContext& node) {
  node.accept_attributes({"perm"});
  node.expect_inputs(1, 1);
  const std::vector<int64_t> to_channels_first = {0, 3, 1, 2}, to_channels_last = {0, 2, 3, 1};
  if (node.is_channels_last(0) && node.integers("perm", {}) == to_channels_last) {
    node.alias(0, node.channels_last(0, "Transpose"));
    return;
  }
  const std::string x = node.value(0);
  if (node.rank(x) == 4 && node.batch_major(x) && node.integers("perm", {}) == to_channels_first) {
    node.alias_channels_last(0, x);
    return;
  }
  std::vector<int64_t> reversed(size_t(node.rank(x)));
  std::iota(reversed.rbegin(), reversed.rend(), 0);
  const std::vector<int64_t> perm = node.integers("perm", reversed);
  if (!perm.empty() && perm[0] != 0) node.expect_not_batch_axis(x, 0, "perm moves axis 0, which");
  node.emit("transpose", {x}, {{"perm", perm}});
}

void map_concat(NodeContext& node) {
  node.accept_attributes({"axis"});
  if (node.input_count() < 1) node.refuse("expected at least one input");
  // Images all held channels last and joined along their channels stay so (a DenseNet block).
  bool channels_last = true;
  for (int i = 0; i < node.input_count(); ++i) channels_last &= node.is_channels_last(i);
  const int64_t onnx_axis = node.integer("axis", 0);
  if (channels_last && (onnx_axis == 1 || onnx_axis == -3)) {
    std::vector<std::string> images;
    for (int i = 0; i < node.input_count(); ++i) images.push_back(node.channels_last(i, "Concat"));
    node.emit_channels_last("concat", images, {{"axis", int64_t{3}}});
    return;
  }
  std::vector<std::string> inputs;
  for (int i = 0; i < node.input_count(); ++i) inputs.push_back(node.value(i));
  const int64_t axis = node.axis(node.integer("axis", 0), node.rank(inputs[0]), "axis");
  const auto batch =
      std::ranges::count_if(inputs, [&](const auto& v) { return node.batch_major(v); });
  if (batch != 0 && batch != std::ssize(inputs)) {
    node.refuse("joins data with a constant along axis " + std::to_string(axis) +
                ", which would fix the batch size");
  }
  if (batch != 0) node.expect_not_batch_axis(inputs[0], axis, "the axis joined");
  node.emit("concat", inputs, {{"axis", axis}});
}

// Softmax and LogSoftmax along `axis` (opset 13 on). Before 13 the input was coerced to a
// matrix at `axis` (default 1) and normalized over everything from it on: a reshape around it.
Mapper softmax(const char* engine_op) {
  return [engine_op](NodeContext& node) {
    node.accept_attributes({"axis"});
    node.expect_inputs(1, 1);
    const std::string x = node.value(0);
    const int64_t rank = node.rank(x);
    const bool coerced = node.opset() < 13;
    const int64_t axis = node.axis(node.integer("axis", coerced ? 1 : -1), rank, "axis");
    node.expect_not_batch_axis(x, axis, "the axis normalized");
    if (!coerced || axis == rank - 1) {
      node.emit(engine_op, {x}, {{"axis", axis}});
      return;
    }
    const Shape& shape = node.shape(x);
    const Shape rows = {product(shape, 0, size_t(axis)),
                        product(shape, size_t(axis), shape.size())};
    const std::string matrix =
        node.step("rows", "reshape", {x}, {{"shape", batch_free(node, x, rows)}});
    const std::string normalized =
        node.step("normalized", engine_op, {matrix}, {{"axis", int64_t{-1}}});
    node.emit("reshape", {normalized}, {{"shape", batch_free(node, x, shape)}});
  };
}

// ReduceSum and ReduceMean: axes from the attribute (before opset 13 for ReduceSum, 18 for
// ReduceMean) or the second input; keepdims (default 1) reshapes the result back to the
// input's rank; no axes reduces all of them unless noop_with_empty_axes.
Mapper reduction(const char* engine_op, int64_t axes_input_opset) {
  return [engine_op, axes_input_opset](NodeContext& node) {
    node.accept_attributes({"axes", "keepdims", "noop_with_empty_axes"});
    node.expect_inputs(1, 2);
    const std::string x = node.value(0);
    const int64_t rank = node.rank(x);
    std::vector<int64_t> axes = node.opset() < axes_input_opset ? node.integers("axes", {})
                                : node.has_input(1)             ? node.integer_constant(1)
                                                                : std::vector<int64_t>{};
    if (axes.empty()) {
      if (node.integer("noop_with_empty_axes", 0) != 0) {
        node.alias(0, x);
        return;
      }
      axes.resize(size_t(rank));
      std::iota(axes.begin(), axes.end(), 0);
    }
    Shape kept = node.shape(x);
    for (int64_t& axis : axes) {
      axis = node.axis(axis, rank, "axis");
      node.expect_not_batch_axis(x, axis, "an axis reduced");
      kept[size_t(axis)] = 1;
    }
    if (node.integer("keepdims", 1) == 0) {
      node.emit(engine_op, {x}, {{"axes", axes}});
      return;
    }
    const std::string reduced = node.step("reduce", engine_op, {x}, {{"axes", axes}});
    node.emit("reshape", {reduced}, {{"shape", batch_free(node, x, kept)}});
  };
}

}  // namespace

void add_structure_mappers(MapperTable& table) {
  table["Identity"] = map_identity;
  table["Dropout"] = map_dropout;
  table["Flatten"] = map_flatten;
  table["Reshape"] = map_reshape;
  table["Transpose"] = map_transpose;
  table["Concat"] = map_concat;
  table["Softmax"] = softmax("softmax");
  table["LogSoftmax"] = softmax("log_softmax");
  table["ReduceSum"] = reduction("reduce_sum", 13);
  table["ReduceMean"] = reduction("reduce_mean", 18);
}

}  // namespace loom
