#include "engine/train/metric_set.hpp"

namespace loom {

MetricContext metric_context(const Experiment& experiment, int64_t units) {
  const LossSpec& loss = experiment.trainer.loss;
  return {.binary = loss.targets == TargetFamily::binary || units == 1, .logits = loss.from_logits};
}

MetricSet::MetricSet(const std::vector<MetricSpec>& specs, const MetricContext& context)
    : metrics_(make_metrics(specs, context)), logits_(context.logits) {
  for (const auto& metric : metrics_) names_.push_back(metric->name());
}

void MetricSet::reset() {
  for (const auto& metric : metrics_) metric->reset();
}

void MetricSet::update(PredictionBatch batch) {
  batch.logits = logits_;
  for (const auto& metric : metrics_) metric->update(batch);
}

void MetricSet::results(std::span<double> results) const {
  for (size_t m = 0; m < metrics_.size(); ++m) results[m] = metrics_[m]->result();
}

MetricSet::States MetricSet::states() const {
  States states;
  for (const auto& metric : metrics_) states.push_back(metric->state());
  return states;
}

MetricSet::States MetricSet::global_states(Communicator& communicator) const {
  States states = this->states();
  std::vector<double> flat;
  for (const auto& state : states) flat.insert(flat.end(), state.begin(), state.end());
  communicator.sum(flat);
  size_t next = 0;
  for (auto& state : states) {
    for (double& value : state) value = flat[next++];
  }
  return states;
}

// A metric's result for given sums: its own state is swapped out and back in.
std::vector<double> MetricSet::results_of(const States& states) {
  std::vector<double> results;
  for (size_t m = 0; m < metrics_.size(); ++m) {
    const std::vector<double> own = metrics_[m]->state();
    metrics_[m]->restore(states[m]);
    results.push_back(metrics_[m]->result());
    metrics_[m]->restore(own);
  }
  return results;
}

void MetricSet::restore(const States& states) {
  for (size_t m = 0; m < metrics_.size(); ++m) metrics_[m]->restore(states[m]);
}

}  // namespace loom
