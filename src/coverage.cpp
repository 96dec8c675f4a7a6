#include "dips/coverage.h"

#ifdef DIPS_COVERAGE
extern "C" void __gcov_dump(void);  // libgcov's: writes the counters, and disables the dump at exit
#endif

namespace dips {

void flush_coverage() {
#ifdef DIPS_COVERAGE
  __gcov_dump();
#endif
}

}  // namespace dips
