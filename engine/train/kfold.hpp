#pragma once
// K-fold validation, Deep Learning with Python §3.6: the training set in K contiguous parts;
// fold i trains a fresh model on the other parts and validates on part i. The estimate is
// the mean over the folds; the mean curve (each epoch's figures averaged over the folds)
// says how many epochs to train the final model.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "engine/data/dataset.hpp"
#include "engine/train/progress.hpp"

namespace loom {

// Fold `fold` of `folds`: (the training part, the validation part), in file order; the
// validation part is samples [fold·n/K, (fold+1)·n/K). InputError when a part would be empty.
std::pair<Dataset, Dataset> kfold_split(const Dataset& data, int64_t folds, int64_t fold);

// Each epoch's figures averaged over the folds, for the epochs every fold reached (early
// stopping may end folds at different epochs).
std::vector<EpochRecord> mean_history(const std::vector<std::vector<EpochRecord>>& folds);

// The mean absolute error and the mean squared error of the mean predictor (the training
// part's mean target, per output) on the validation part: the baseline a regression model
// must beat.
struct Baseline {
  double mae = 0;
  double mse = 0;
};
Baseline mean_predictor_baseline(const Dataset& train, const Dataset& validation);

}  // namespace loom
