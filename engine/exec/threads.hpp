#pragma once
// How many OpenMP threads kernels run on: one count, or several for a job to choose among
// while it runs (adaptive threads).
//
// Why several: OpenMP threads that wait for a core another process holds spin, and every
// parallel region waits for its slowest thread. With one busy process beside it on a 2-core
// machine, the book MLP trained at 10,500 samples/s on 2 threads and 28,100 on 1. A trainer
// that measures its own steps can move to the count that is fastest now. oneDNN fixes a
// primitive's partition of work across threads when the primitive is created, so a plan
// compiles one set of kernels per count (sharing its planned memory) and switching count is
// switching set: nothing is created or freed while training runs.

#include <vector>

namespace loom {

// Asks plans created from now on to compile a kernel set for each of several thread counts
// (true), or for the current OpenMP count only (false, the default: a fixed --threads, the
// library API, the tests).
void set_adaptive_threads(bool adaptive);
bool adaptive_threads();

// The counts a new plan compiles for, largest first: OpenMP's current count alone, or when
// adaptive that count, its half, its quarter, ... down to 1 (a few sets even on many cores).
std::vector<int> thread_counts_for_new_plans();

}  // namespace loom
