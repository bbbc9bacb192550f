#pragma once
// The processes of a data-parallel run and the few collective operations training needs.
// A run started by `mpirun -np N trainer train CONFIG` has N ranks; anything else has one,
// and then every operation is free (nothing is copied, nothing waits).
//
// Every rank must make the same calls in the same order: the trainer only calls these at
// points every rank reaches (each step, each epoch end, each checkpoint).

#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace loom {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  bool is_root() const { return rank() == 0; }

  // Sums `values` over every rank, in place: every rank ends with the same totals.
  virtual void sum(std::span<float> values) = 0;
  virtual void sum(std::span<double> values) = 0;
  // Starts summing `values` in place and returns at once (MPI_Iallreduce); finish_sums()
  // waits for every sum started, progress() lets them advance meanwhile. Every rank starts
  // the same sums in the same order.
  virtual void start_sum(std::span<float> values) = 0;
  virtual void progress() = 0;
  virtual void finish_sums() = 0;
  // The smallest of every rank's `value`.
  virtual int minimum(int value) = 0;
  // Ends every rank of the run with `exit_code`, from any rank, whatever the others are doing.
  [[noreturn]] virtual void abort(int exit_code) = 0;
  // "MPI (2 ranks)" or "single process", for logs.
  virtual std::string describe() const = 0;
};

// The communicator for this process: MPI's world when the trainer was started by mpirun (and
// built with MPI), a single-process one otherwise. Under mpirun without MPI support it throws
// an InputError saying how to build with it.
std::unique_ptr<Communicator> make_communicator(int& argc, char**& argv);

// A communicator for one process, for tools and tests that never run distributed.
std::unique_ptr<Communicator> single_process_communicator();
Communicator& single_process();  // a shared one

// Whether this trainer was built with MPI (cmake -DLOOM_MPI=ON, the default when Open MPI's
// development package is installed).
bool built_with_mpi();

// The part of `count` items (a global batch, a dataset) that `rank` of `ranks` takes: the
// contiguous range [begin, end), with sizes differing by at most one.
struct Shard {
  int64_t begin = 0;
  int64_t end = 0;
  int64_t size() const { return end - begin; }
};
Shard shard_of(int64_t count, int rank, int ranks);

}  // namespace loom
