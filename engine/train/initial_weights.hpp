#pragma once
// --init-weights: a new run that starts from another run's weights (fine-tuning, transfer
// learning), with Keras's load_weights semantics. By default the checkpoint must hold exactly
// the model's parameters, each with the model's shape: a partial load is refused, never done
// silently. `by_name` loads the parameters both hold under the same name and lists the rest;
// `skip_mismatch` (with by_name) also skips a name whose shape differs, listing it.

#include <string>
#include <vector>

#include "engine/exec/parameter_store.hpp"
#include "engine/train/safetensors.hpp"

namespace loom {

struct WeightMatching {
  bool by_name = false;
  bool skip_mismatch = false;
};

// What a load did, for the run's log.
struct WeightLoadReport {
  std::vector<std::string> loaded;
  std::vector<std::string> kept;     // the model's, not in the file: their initial values stay
  std::vector<std::string> skipped;  // "name: [file shape] in the file, [model shape] here"
  std::vector<std::string> unused;   // the file's, not in the model
  std::string summary() const;       // one line: counts, then the names
};

// Checks every weight that will be copied (shape, finite) before copying any: a refused file
// leaves the parameters as they were.
WeightLoadReport load_initial_weights(const SafetensorsFile& file, ParameterStore& parameters,
                                      WeightMatching matching);

}  // namespace loom
