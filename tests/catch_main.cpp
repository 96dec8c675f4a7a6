#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <cstdlib>

int main(int argc, char* argv[]) {
#ifdef DIPS_IMGCODECS_MODULE_PATH
  // Test binaries are not next to libdips_imgcodecs.so (tests/CMakeLists.txt); a value set outside wins.
  ::setenv("DIPS_IMGCODECS_MODULE", DIPS_IMGCODECS_MODULE_PATH, 0);
#endif
  return Catch::Session().run(argc, argv);
}
