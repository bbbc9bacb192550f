#pragma once
// What an op is: a shape rule, a kernel factory and a gradient rule, registered by name.
// One file under ops/ holds all three for one op (and for its backward helper ops).

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/error.hpp"
#include "engine/graph/graph.hpp"

namespace loom {

class CompileContext;
class LayoutNegotiation;

class Kernel;  // engine/exec/kernel.hpp: what compile() returns

// What a config may name an op as besides a graph node: a loss (trainer.loss) or a layer's
// activation. The config's lists of known losses and activations are read from these roles.
enum class OpRole { other, loss, activation };

struct OpSignature {
  std::vector<std::string> inputs;  // names for messages and docs, e.g. {"x", "w"}
  bool variadic = false;            // the last input may repeat (add)
  size_t optional_inputs = 0;       // how many of the last named inputs may be left out (a bias)
  std::vector<AttributeSpec> attributes;
  // How many of the last outputs only carry state to the backward pass (a dropout mask, a
  // pooling workspace, batch statistics): they have no gradient of their own.
  size_t auxiliary_outputs = 0;
  bool internal = false;  // emitted by autodiff (a backward helper), not listed to users
  OpRole role = OpRole::other;
};

// The operands of Op::reference: every tensor plain (row-major over its logical shape, channels
// last for images) and in double precision.
struct ReferenceCall {
  const Node& node;
  bool training;  // the graph's purpose: dropout drops, batch_norm uses batch statistics
  int64_t step;   // the training step (Runtime::step) dropout's masks are drawn for
  std::span<const TensorType> input_types;
  std::span<const TensorType> output_types;
  std::span<const std::span<const double>> inputs;  // an i32 input holds whole numbers
  std::span<const std::span<double>> outputs;       // zero on entry

  const Shape& input_shape(size_t i) const { return input_types[i].shape; }
  const Shape& output_shape(size_t i) const { return output_types[i].shape; }
};

class GradientBuilder;

struct GradientRequest {
  const Node& node;
  std::span<const std::optional<ValueId>> output_gradients;  // d(loss)/d(output i), if any
  const std::vector<bool>& wanted;                           // which input gradients to emit

  ValueId output_gradient(size_t i = 0) const;  // throws when output i has none
};

class Op {
 public:
  virtual ~Op() = default;
  virtual std::string_view name() const = 0;
  virtual OpSignature signature() const = 0;
  virtual std::vector<TensorType> infer(const Node& node,
                                        std::span<const TensorType> inputs) const = 0;
  virtual std::unique_ptr<Kernel> compile(const Node& node, CompileContext& context) const = 0;

  // The input whose buffer output 0 may overwrite (an element-wise op whose kernel supports
  // in-place execution). The memory planner uses it only when that input is read by nothing
  // after this node.
  virtual std::optional<size_t> in_place_input(const Node& /*node*/) const { return std::nullopt; }

  // Layout negotiation (engine/exec/layout.hpp), for an op whose oneDNN primitive runs faster
  // on a format of oneDNN's choosing: reads the layouts its inputs arrive in and states the
  // ones it wants them in and the ones it produces. Doing nothing (the default) means plain
  // in, plain out. compile() must then bind exactly the layouts stated here.
  virtual void negotiate_layouts(const Node& /*node*/, LayoutNegotiation& /*negotiation*/) const {}

  // Floating-point operations one run of the node performs, where that is a meaningful
  // measure of its work (matmuls); 0 otherwise. Benchmarks report GFLOP/s from it.
  virtual int64_t flops(const Node& /*node*/, const Graph& /*graph*/) const { return 0; }

  // The op's forward in double precision by plain loops: its definition, written for clarity
  // rather than speed. The gradient checker (engine/check) takes finite differences of it,
  // which in double precision need neither a large step nor a guess about where the op bends,
  // and checks the compiled kernel against it. An op without one (has_reference() false)
  // cannot be gradient-checked. Auxiliary outputs may be left at zero; a training graph's
  // side effects (batch_norm's moving statistics) are not part of it.
  virtual bool has_reference() const { return false; }
  virtual void reference(const ReferenceCall& call) const;

  // Emits the nodes that compute d(loss)/d(input i) and returns their values (nullopt for an
  // input with no gradient). The default says the op has no gradient rule.
  virtual std::vector<std::optional<ValueId>> gradient(GradientBuilder& builder,
                                                       const GradientRequest& request) const;
};

// Emits backward nodes into the graph with readable, unique names ("d/z1/matmul").
class GradientBuilder {
 public:
  explicit GradientBuilder(Graph& graph) : graph_(graph) {}
  ValueId emit(const Node& forward, std::string_view op_name, std::vector<ValueId> inputs,
               Attributes attributes = {});
  std::vector<ValueId> emit_multi(const Node& forward, std::string_view op_name,
                                  std::vector<ValueId> inputs, Attributes attributes = {});
  const Graph& graph() const { return graph_; }

 private:
  Graph& graph_;
};

// "node 'z1' (matmul): <what>" as an InputError: shapes come from the user's config.
[[noreturn]] void fail_node(const Node& node, const std::string& what);
void expect_rank(const Node& node, std::span<const TensorType> inputs, size_t index, int64_t rank);
void expect_dtype(const Node& node, std::span<const TensorType> inputs, size_t index, DType dtype);
std::string describe_input(const Node& node, std::span<const TensorType> inputs, size_t index);
// An axis attribute in [-rank, rank) as an index in [0, rank); out of range is an error.
int64_t normalize_axis(const Node& node, int64_t axis, int64_t rank);

class OpRegistry {
 public:
  // The registry every graph uses; the built-in ops are registered on first use by an
  // explicit call (no static initializers, which a static library would drop).
  static OpRegistry& global();

  void add(std::unique_ptr<Op> op);  // a duplicate name is an error
  const Op* find(std::string_view name) const;
  const Op& get(std::string_view name) const;  // unknown: an error listing the known names
  std::vector<std::string> names() const;      // the ops users write, for "known:" lists
  // Every op, backward helpers included: a config may name those too (the graph fuzzer
  // writes them all).
  std::vector<std::string> all_names() const;
  // The user-facing ops with this role (the losses, the activations), sorted.
  std::vector<std::string> names_with_role(OpRole role) const;

 private:
  std::vector<std::unique_ptr<Op>> ops_;
};

}  // namespace loom
