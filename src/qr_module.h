#pragma once
// The interface between dips (operation.cpp's read_qr_code) and libdips_qr.so (qr_module.cpp), the one
// part of dips that links ZBar (and through it X11, v4l and D-Bus), loaded with dlopen on the first QR
// scan (module_loader.h). Both sides are built together with the same compiler, so C++ types may cross;
// no exception does.
#include <cstdint>
#include <string>
#include <vector>

namespace dips::qr_module {

// Raised with any change below, so that a module left over from another build is refused.
constexpr int kAbiVersion = 1;
constexpr const char* kFileName = "libdips_qr.so";

// One decoded symbol: its data as bytes, and the box around the points ZBar located (all 0 when none).
struct Symbol {
  std::string data;
  int min_x = 0, min_y = 0, max_x = 0, max_y = 0;
};

// What a scan did: kThrew is an exception inside ZBar, whose text is in *error.
enum Result : int { kOk = 0, kThrew = 2 };

using ScanFunction = int (*)(const uint8_t* gray, int width, int height, std::vector<Symbol>* symbols, std::string* error);

}  // namespace dips::qr_module

extern "C" {
// kAbiVersion of the module.
int dips_qr_abi();
// Scans a continuous 8-bit gray image (width x height bytes) with ZBar's default symbologies, QR data
// taken as bytes (docs/operations.md, read_qr_code); appends what it found, in ZBar's order.
int dips_qr_scan(const uint8_t* gray, int width, int height, std::vector<dips::qr_module::Symbol>* symbols, std::string* error);
}
