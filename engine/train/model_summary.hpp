#pragma once
// Keras's model.summary(): the model's layers in order, each with its output shape and its
// parameter count, the trainable and non-trainable totals, and what training and inference
// will allocate. A layer is the nodes a `layers:` entry expanded into (named "<layer>/..."
// and "<layer>"); in an explicit graph each node is its own row.

#include <cstdint>
#include <string>
#include <vector>

#include "engine/train/session.hpp"

namespace loom {

struct SummaryRow {
  std::string name;
  std::string ops;  // the ops of its nodes, "matmul, bias_add, relu"
  Shape output;     // one sample's
  int64_t parameters = 0;
};

struct ModelSummary {
  std::string name;
  Shape input;  // one sample's
  std::vector<SummaryRow> rows;
  int64_t trainable = 0, non_trainable = 0;  // parameter counts
  int64_t parameter_bytes = 0;
  int64_t batch = 0;                // the config's batch size, which the figures below are for
  int64_t training_bytes = 0;       // weights, optimizer slots, the training plan's arena
  int64_t inference_bytes = 0;      // weights and the inference plan's arena
  int64_t single_sample_bytes = 0;  // weights and the inference plan's arena at batch 1
};

ModelSummary summarize(Session& session);
std::string summary_text(const ModelSummary& summary);

}  // namespace loom
