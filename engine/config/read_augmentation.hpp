#pragma once
// `data.augmentation:`, image augmentation in training (engine/data/augmentation.hpp):
//   augmentation: {flip: horizontal, rotation: 0.1, zoom: 0.2, translation: [0.1, 0.1]}
// Every key is optional: flip (none, horizontal, vertical, horizontal_and_vertical),
// rotation (a fraction of a full turn, 0 to 0.5), zoom (a fraction below 1, or [height,
// width]), translation (a fraction of the size, or [height, width]), crop (the window as a
// fraction of the size, above 0 and at most 1, or [height, width]), fill_mode (reflect,
// nearest, constant) and fill_value (with constant). Each value is checked at its position.

#include <yaml-cpp/yaml.h>

#include <optional>

#include "engine/config/config_node.hpp"
#include "engine/data/augmentation.hpp"

namespace loom {

// Absent or null: no augmentation. A map whose settings change nothing is no augmentation
// either.
std::optional<AugmentationSpec> read_augmentation(ConfigNode node);

// The spec as read_augmentation reads it back, every key written (the resolved config).
YAML::Node augmentation_yaml(const AugmentationSpec& spec);

}  // namespace loom
