#pragma once
// Keras's Normalization.adapt: the mean and variance of the training data per index along an
// axis, computed once before training into the normalization layer's parameters (which
// checkpoints then carry to evaluation, prediction and resumed runs).

#include "engine/config/experiment.hpp"
#include "engine/data/dataset.hpp"
#include "engine/exec/parameter_store.hpp"

namespace loom {

// Fills every parameter with an `adapt` statistic from `train`'s features as the model sees
// them (scaled). Sums in double around a per-index shift (the first sample's value), so a
// feature with a large mean and a small spread keeps its variance. inverse_std is
// 1 / max(sqrt(variance), 1e-7), Keras's guard for constant features.
void adapt_normalization(const ModelSpec& model, const Dataset& train, ParameterStore& parameters);

}  // namespace loom
