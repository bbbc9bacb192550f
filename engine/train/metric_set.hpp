#pragma once
// The metrics a run reports (trainer.metrics), kept together: updated from each batch's
// predictions, and summed over the ranks under data parallelism, so that every rank reports
// the same values (a metric's state is a set of sums).

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/config/experiment.hpp"
#include "engine/data/metrics.hpp"
#include "engine/dist/communicator.hpp"

namespace loom {

// What the metrics need to know of the experiment's loss and its `units` outputs.
MetricContext metric_context(const Experiment& experiment, int64_t units);

class MetricSet {
 public:
  MetricSet(const std::vector<MetricSpec>& specs, const MetricContext& context);

  std::span<const std::string> names() const { return names_; }
  size_t size() const { return metrics_.size(); }

  void reset();
  void update(PredictionBatch batch);  // the outputs' logits flag is the context's
  // This process's results, into `results` (sized already: no allocation per step).
  void results(std::span<double> results) const;

  using States = std::vector<std::vector<double>>;
  States states() const;
  // Every rank's states summed (a collective: every rank calls it), and what they give.
  States global_states(Communicator& communicator) const;
  std::vector<double> results_of(const States& states);
  std::vector<double> global_results(Communicator& communicator) {
    return results_of(global_states(communicator));
  }
  // Checkpoints: `states` replaces the sums (checked by read_states first).
  void restore(const States& states);
  // Why `state` cannot be metric m's state; empty when it can.
  std::string state_problem(size_t m, std::span<const double> state) const {
    return metrics_[m]->state_problem(state);
  }
  size_t state_size(size_t m) const { return metrics_[m]->state().size(); }

 private:
  std::vector<std::unique_ptr<Metric>> metrics_;
  std::vector<std::string> names_;
  bool logits_ = false;
};

}  // namespace loom
