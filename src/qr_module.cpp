// libdips_qr.so: ZBar behind qr_module.h.
#include "qr_module.h"

#include <zbar.h>

#include <algorithm>
#include <climits>
#include <exception>

namespace {
using dips::qr_module::Symbol;
}

extern "C" __attribute__((visibility("default"))) int dips_qr_abi() { return dips::qr_module::kAbiVersion; }

extern "C" __attribute__((visibility("default"))) int dips_qr_scan(const uint8_t* gray, int width, int height, std::vector<Symbol>* symbols,
                                                                   std::string* error) {
  try {
    zbar::ImageScanner scanner;
    // ZBar's default symbologies, as operations.md says. QR data is taken as its bytes (UTF-8 from every
    // common encoder): without BINARY, ZBar guesses a character set and turns UTF-8 "Grüße" into Shift-JIS.
    scanner.set_config(zbar::ZBAR_QRCODE, zbar::ZBAR_CFG_BINARY, 1);
    zbar::Image image(static_cast<unsigned>(width), static_cast<unsigned>(height), "Y800", gray,
                      static_cast<unsigned long>(width) * static_cast<unsigned long>(height));
    scanner.scan(image);
    for (auto symbol = image.symbol_begin(); symbol != image.symbol_end(); ++symbol) {
      Symbol found;
      found.data = symbol->get_data();
      if (symbol->get_location_size() > 0) {
        found.min_x = found.min_y = INT_MAX;
        found.max_x = found.max_y = INT_MIN;
        for (int i = 0; i < symbol->get_location_size(); ++i) {
          found.min_x = std::min(found.min_x, symbol->get_location_x(i));
          found.max_x = std::max(found.max_x, symbol->get_location_x(i));
          found.min_y = std::min(found.min_y, symbol->get_location_y(i));
          found.max_y = std::max(found.max_y, symbol->get_location_y(i));
        }
      }
      symbols->push_back(std::move(found));
    }
    image.set_data(nullptr, 0);  // the pixels belong to the caller, not to ZBar
    return dips::qr_module::kOk;
  } catch (const std::exception& e) {
    *error = e.what();
    return dips::qr_module::kThrew;
  }
}
