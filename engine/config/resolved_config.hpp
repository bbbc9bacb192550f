#pragma once
// The experiment written back as YAML with every default filled in: the run directory keeps
// it as config.yaml, `--resume` loads it again, and the report shows it.

#include <yaml-cpp/yaml.h>

#include "engine/config/experiment.hpp"

namespace loom {

YAML::Node resolved_config(const Experiment& experiment);

}  // namespace loom
