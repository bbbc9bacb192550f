#pragma once
// The loss against the model's last layer, at load: Keras trains a mismatched pair without a
// word (a softmax over one unit predicts 1 whatever the input; categorical crossentropy on
// unbounded outputs takes logs of negative numbers). InputError at the loss's position, saying
// what to change.

#include "engine/config/experiment.hpp"

namespace loom {

// `units`: the model output's values per sample.
void check_loss_fits_output(const Experiment& experiment, int64_t units);

}  // namespace loom
