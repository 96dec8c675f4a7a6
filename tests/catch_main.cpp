#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <cstdlib>

int main(int argc, char* argv[]) {
  // Test binaries are not next to dips' modules (tests/CMakeLists.txt); a value set outside wins.
#ifdef DIPS_IMGCODECS_MODULE_PATH
  ::setenv("DIPS_IMGCODECS_MODULE", DIPS_IMGCODECS_MODULE_PATH, 0);
#endif
#ifdef DIPS_QR_MODULE_PATH
  ::setenv("DIPS_QR_MODULE", DIPS_QR_MODULE_PATH, 0);
#endif
#ifdef DIPS_HTTP_MODULE_PATH
  ::setenv("DIPS_HTTP_MODULE", DIPS_HTTP_MODULE_PATH, 0);
#endif
  return Catch::Session().run(argc, argv);
}
