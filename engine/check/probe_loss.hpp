#pragma once
// The gradient checker's loss for one op: gradcheck_probe_loss(y, r) = Σ_i y[i]·r[i] with
// fixed random weights r, so every output element's gradient matters and none cancels by
// symmetry; its backward op gives dy = r·dloss. Both are internal ops.

namespace loom {

void register_probe_ops();  // once per process; later calls do nothing

}  // namespace loom
