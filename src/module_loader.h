#pragma once
// dips' plug-ins: the parts that bring large libraries only some jobs need (OpenCV's imgcodecs, ZBar,
// cpp-httplib with OpenSSL), built as MODULE libraries with dips and opened with dlopen on first use. A
// process that never needs one never maps its libraries: every rank of a job starts faster (mpirun starts
// them one after the other, and all of them share the cores at start-up). Each module's interface lives
// in its own header (imgcodecs_module.h, qr_module.h, http_module.h); this finds and opens the file.
#include <initializer_list>
#include <string>

namespace dips {

// One module as its users know it.
struct ModuleSpec {
  const char* file_name;   // "libdips_qr.so"
  const char* env;         // a variable that, when set, is the only path tried ("DIPS_QR_MODULE")
  const char* abi_symbol;  // a function returning the module's interface version
  int abi;                 // the version this build expects: a module left over from another build is refused
  std::initializer_list<const char*> functions;  // what the caller calls: a file lacking one is refused too
};

// An opened module (never closed: the process keeps it to the end), or why none could be opened.
struct OpenedModule {
  void* handle = nullptr;
  std::string error;  // empty when opened
  // A function the module exports (non-null for every one in ModuleSpec::functions when opened).
  void* symbol(const char* name) const;
};

// Opens the module from, in order: $env alone when it is set (tests, unusual installs); else next to the
// running executable (the build tree), the module folder relative to it (an install under any prefix),
// and the install folder configured at build time. The error names every path tried, why each failed,
// and the variable that points at the file.
OpenedModule open_module(const ModuleSpec& spec);

}  // namespace dips
