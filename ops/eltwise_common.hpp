#pragma once
// What the element-wise activation ops share: one oneDNN eltwise primitive forward, one
// eltwise_backward primitive for the gradient, both described by an EltwiseDefinition. An op
// file fills in the definition (its name, oneDNN algorithm, parameters) and registers it:
//
//   register_eltwise(registry, {.name = "sigmoid",
//                               .algorithm = dnnl::algorithm::eltwise_logistic_use_dst_for_bwd,
//                               .backward_reads_output = true});
//
// The backward op ("sigmoid_backward", internal) takes (dy, y) when the algorithm computes
// the derivative from the output (the *_use_dst_for_bwd variants: relu, tanh, elu, sigmoid,
// exp, sqrt), and (dy, x) otherwise; reading the output lets the input's buffer be reused.
//
// The functions reading attributes (choose_algorithm, alpha, beta) may throw InputError for a
// value the op rejects (elu's negative alpha); the op's shape rule calls them, so the error
// names the node when the graph is built rather than failing inside oneDNN at compile time.

#include <functional>
#include <oneapi/dnnl/dnnl.hpp>

#include "engine/graph/op.hpp"

namespace loom {

struct EltwiseDefinition {
  std::string name;
  dnnl::algorithm algorithm;
  // When set, picks the algorithm from the node's attributes instead (gelu's `approximate`:
  // erf or tanh form). Every algorithm it may return must read the tensor that
  // backward_reads_output names.
  std::function<dnnl::algorithm(const Attributes&)> choose_algorithm;
  bool backward_reads_output = false;
  // oneDNN's alpha and beta from the node's attributes (for example leaky_relu's slope).
  std::vector<AttributeSpec> attributes;
  std::function<float(const Attributes&)> alpha = [](const Attributes&) { return 0.f; };
  std::function<float(const Attributes&)> beta = [](const Attributes&) { return 0.f; };
  bool in_place = false;  // oneDNN runs it in place; the planner may reuse x's buffer for y
  // Whether a layer may name it as its activation (log and sqrt are plain functions).
  OpRole role = OpRole::activation;
  // When set, the forward pass is this function applied by a loop over plain memory instead
  // of oneDNN's primitive, whose approximation is too coarse for the function: oneDNN 2.6's
  // log is 1.4e-3 off relatively near 1 and -1.4e-6 at log(1), beyond ONNX's tolerances.
  float (*exact_forward)(float) = nullptr;
  // The function's definition in double precision (Op::reference), reading the same
  // attributes with the same defaults as alpha and beta; unset, the op has no reference.
  std::function<double(double x, const Attributes&)> reference;
};

// Registers the op and its backward op ("<name>_backward").
void register_eltwise(OpRegistry& registry, const EltwiseDefinition& definition);

}  // namespace loom
