#include "engine/dist/communicator.hpp"

#include <cstdlib>

#include "engine/core/error.hpp"

namespace loom {

namespace {

class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void sum(std::span<float>) override {}
  void sum(std::span<double>) override {}
  void start_sum(std::span<float>) override {}
  void progress() override {}
  void finish_sums() override {}
  int minimum(int value) override { return value; }
  [[noreturn]] void abort(int exit_code) override { std::exit(exit_code); }
  std::string describe() const override { return "single process"; }
};

// Set by mpirun (Open MPI) or by other MPI launchers (PMI).
bool launched_by_mpirun() {
  for (const char* variable : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}) {
    if (const char* value = std::getenv(variable); value && std::atoi(value) > 1) return true;
  }
  return false;
}

}  // namespace

#ifdef LOOM_WITH_MPI
std::unique_ptr<Communicator> mpi_communicator(int& argc, char**& argv);  // mpi_communicator.cpp
bool built_with_mpi() {
  return true;
}
#else
bool built_with_mpi() {
  return false;
}
#endif

std::unique_ptr<Communicator> make_communicator([[maybe_unused]] int& argc,
                                                [[maybe_unused]] char**& argv) {
  if (!launched_by_mpirun()) return single_process_communicator();
#ifdef LOOM_WITH_MPI
  return mpi_communicator(argc, argv);
#else
  throw InputError(
      "started by mpirun, but this trainer was built without MPI (install libopenmpi-dev and "
      "rebuild: tools/setup.sh && tools/build.sh)");
#endif
}

std::unique_ptr<Communicator> single_process_communicator() {
  return std::make_unique<SingleProcess>();
}

Communicator& single_process() {
  static SingleProcess communicator;
  return communicator;
}

Shard shard_of(int64_t count, int rank, int ranks) {
  return {count * rank / ranks, count * (rank + 1) / ranks};
}

}  // namespace loom
