#include "engine/config/loss_output_check.hpp"

#include "engine/core/error.hpp"
#include "engine/graph/op.hpp"

namespace loom {

namespace {

// The op that computes the model's output ("" when the output is the input itself).
std::string last_op(const ModelSpec& model) {
  for (const NodeSpec& node : model.nodes) {
    if (node.name == model.output) return node.op;
  }
  return "";
}

std::string ending(const std::string& op) {
  if (op.empty()) return "the model output is its input";
  const Op* found = OpRegistry::global().find(op);
  if (found && found->signature().role == OpRole::activation) {
    return "the model ends with a " + op + " activation";
  }
  return "the model's last layer has no activation (it ends with '" + op + "')";
}

}  // namespace

void check_loss_fits_output(const Experiment& experiment, int64_t units) {
  const LossSpec& loss = experiment.trainer.loss;
  const std::string op = last_op(experiment.model);
  const std::string at = loss.where + ": loss '" + loss.name + "': ";
  if (op == "softmax" && units == 1) {
    throw InputError(at + "a softmax over 1 unit is always 1; for a binary output end with " +
                     "Dense(1, sigmoid) and binary_crossentropy, or use 2 units");
  }
  switch (loss.targets) {
    case TargetFamily::class_index:
    case TargetFamily::categorical:
      if (units < 2) {
        throw InputError(at + "needs one output unit per class (2 or more); the model has " +
                         std::to_string(units) + " (for a binary output use " +
                         "binary_crossentropy with Dense(1, sigmoid))");
      }
      if (op != "softmax") {
        throw InputError(at + "expects class probabilities, but " + ending(op) +
                         "; end the model with a softmax activation");
      }
      return;
    case TargetFamily::binary:
      if (loss.from_logits && op == "sigmoid") {
        throw InputError(at + "from_logits is true, but " + ending(op) +
                         "; drop the sigmoid or set from_logits: false");
      }
      if (!loss.from_logits && op != "sigmoid") {
        throw InputError(at + "expects probabilities, but " + ending(op) +
                         "; end with a sigmoid activation, or set from_logits: true");
      }
      return;
    case TargetFamily::regression:
      return;
  }
}

}  // namespace loom
