#pragma once
// What softmax and log_softmax share: one oneDNN softmax_v2 primitive along an axis
// (softmax_accurate or softmax_log), its backward reading the output, the axis attribute and
// the double-precision reference. Each op's file registers its kind.

#include <oneapi/dnnl/dnnl.hpp>

#include "engine/graph/op.hpp"

namespace loom {

struct SoftmaxKind {
  std::string name;           // "softmax", "log_softmax"; the backward op is "<name>_backward"
  dnnl::algorithm algorithm;  // softmax_accurate or softmax_log
  bool log = false;           // y = log(softmax(x)): the reference and its meaning
};

void register_softmax_kind(OpRegistry& registry, const SoftmaxKind& kind);

}  // namespace loom
