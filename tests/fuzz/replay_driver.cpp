// A stand-in for libFuzzer where there is no clang (the default gcc build): runs a fuzz target on every
// seed of its corpus, then on `runs` inputs mutated from the seeds (bit flips, byte changes, insertions,
// deletions, truncations, splices) from a fixed random seed, so the test suite exercises every target on
// every build. Without coverage guidance it finds less than scripts/fuzz.sh; a violated check aborts.
//   replay_driver RUNS CORPUS_DIR...
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace {

std::vector<uint8_t> mutate(std::vector<uint8_t> input, const std::vector<std::vector<uint8_t>>& seeds, std::mt19937& rng) {
  const int steps = 1 + static_cast<int>(rng() % 4);
  for (int i = 0; i < steps; ++i) {
    const size_t at = input.empty() ? 0 : rng() % input.size();
    switch (rng() % 6) {
      case 0: if (!input.empty()) input[at] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
      case 1: if (!input.empty()) input[at] = static_cast<uint8_t>(rng()); break;
      case 2: input.insert(input.begin() + static_cast<long>(at), static_cast<uint8_t>("\t\n,=./#\r\0x9"[rng() % 12])); break;
      case 3: if (!input.empty()) input.erase(input.begin() + static_cast<long>(at)); break;
      case 4: input.resize(at); break;
      case 5: {
        const auto& other = seeds[rng() % seeds.size()];
        if (!other.empty()) input.insert(input.begin() + static_cast<long>(at), other.begin() + static_cast<long>(rng() % other.size()), other.end());
        break;
      }
    }
  }
  return input;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s RUNS CORPUS_DIR...\n", argv[0]);
    return 2;
  }
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  const long runs = std::atol(argv[1]);
  std::vector<std::vector<uint8_t>> seeds;
  for (int i = 2; i < argc; ++i) {
    for (const auto& entry : std::filesystem::directory_iterator(argv[i])) {
      std::ifstream in(entry.path(), std::ios::binary);
      seeds.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
  }
  if (seeds.empty()) seeds.emplace_back();
  for (const auto& seed : seeds) LLVMFuzzerTestOneInput(seed.data(), seed.size());
  std::mt19937 rng(20261127);
  for (long run = 0; run < runs; ++run) {
    const std::vector<uint8_t> input = mutate(seeds[rng() % seeds.size()], seeds, rng);
    LLVMFuzzerTestOneInput(input.data(), input.size());
  }
  std::printf("%zu seeds and %ld mutated inputs: no crash, every check held\n", seeds.size(), runs);
  return 0;
}
