// The MPI communicator (built with -DLOOM_MPI=ON): MPI_COMM_WORLD, initialized on first use
// and finalized when the communicator is destroyed.

#include <mpi.h>

#include <climits>
#include <vector>

#include "engine/core/error.hpp"
#include "engine/dist/communicator.hpp"

namespace loom {

namespace {

void check(int status, const char* what) {
  if (status != MPI_SUCCESS) throw RuntimeError(std::string(what) + " failed (MPI error)");
}

class MpiWorld final : public Communicator {
 public:
  MpiWorld(int& argc, char**& argv) {
    check(MPI_Init(&argc, &argv), "MPI_Init");
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    requests_.reserve(kMaxPendingSums);  // starting a sum never allocates
  }
  ~MpiWorld() override { MPI_Finalize(); }

  int rank() const override { return rank_; }
  int size() const override { return size_; }

  void sum(std::span<float> values) override { reduce(values.data(), values.size(), MPI_FLOAT); }
  void sum(std::span<double> values) override { reduce(values.data(), values.size(), MPI_DOUBLE); }

  void start_sum(std::span<float> values) override {
    if (requests_.size() == kMaxPendingSums || values.size() > size_t(INT_MAX)) {
      throw RuntimeError("too many or too large pending sums (" + std::to_string(requests_.size()) +
                         ", " + std::to_string(values.size()) + " values)");
    }
    MPI_Request& request = requests_.emplace_back();
    check(MPI_Iallreduce(MPI_IN_PLACE, values.data(), int(values.size()), MPI_FLOAT, MPI_SUM,
                         MPI_COMM_WORLD, &request),
          "MPI_Iallreduce");
  }

  void progress() override {
    int done = 0;
    check(MPI_Testall(int(requests_.size()), requests_.data(), &done, MPI_STATUSES_IGNORE),
          "MPI_Testall");
  }

  void finish_sums() override {
    check(MPI_Waitall(int(requests_.size()), requests_.data(), MPI_STATUSES_IGNORE), "MPI_Waitall");
    requests_.clear();
  }

  int minimum(int value) override {
    check(MPI_Allreduce(MPI_IN_PLACE, &value, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD),
          "MPI_Allreduce");
    return value;
  }

  [[noreturn]] void abort(int exit_code) override {
    MPI_Abort(MPI_COMM_WORLD, exit_code);
    std::_Exit(exit_code);  // MPI_Abort does not return; this keeps the promise if it did
  }

  std::string describe() const override { return "MPI (" + std::to_string(size_) + " ranks)"; }

 private:
  // MPI counts are ints: a buffer beyond INT_MAX elements goes in pieces.
  void reduce(void* data, size_t count, MPI_Datatype type) {
    int element = 0;
    MPI_Type_size(type, &element);
    auto* bytes = static_cast<char*>(data);
    for (size_t done = 0; done < count;) {
      const int piece = int(std::min<size_t>(count - done, INT_MAX));
      check(MPI_Allreduce(MPI_IN_PLACE, bytes + done * size_t(element), piece, type, MPI_SUM,
                          MPI_COMM_WORLD),
            "MPI_Allreduce");
      done += size_t(piece);
    }
  }

  static constexpr size_t kMaxPendingSums = 256;
  int rank_ = 0;
  int size_ = 1;
  std::vector<MPI_Request> requests_;
};

}  // namespace

std::unique_ptr<Communicator> mpi_communicator(int& argc, char**& argv) {
  return std::make_unique<MpiWorld>(argc, argv);
}

}  // namespace loom
