#pragma once
// `trainer export --format onnx`: a run's inference graph with one checkpoint's weights as an
// ONNX model (engine/onnx/ writes it). The preprocessing travels in the graph: the input
// scale the training set was read with is a Mul at the input, a normalization layer's
// statistics are initializers. The metadata (metadata_props) states the scale, the class
// names, the loss and the engine version.

#include <filesystem>

#include "engine/config/experiment.hpp"

namespace loom {

// Checks every weight (shape, finite) before writing; replaces `output` atomically.
Experiment export_onnx_model(const std::filesystem::path& run_directory,
                             const std::filesystem::path& checkpoint,
                             const std::filesystem::path& output);

}  // namespace loom
