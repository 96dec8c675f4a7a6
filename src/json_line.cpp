#include "dips/json_line.h"

#include <fmt/compile.h>
#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>

namespace dips {

void JsonLine::separate() {
  if (!first_) out_ += ',';
  first_ = false;
}

JsonLine& JsonLine::open(char bracket) {
  separate();
  out_ += bracket;
  first_ = true;
  return *this;
}

JsonLine& JsonLine::close(char bracket) {
  out_ += bracket;
  first_ = false;
  return *this;
}

JsonLine& JsonLine::key(std::string_view name) {
  separate();
  out_ += '"';
  out_ += name;
  out_ += "\":";
  first_ = true;  // the value that follows takes no comma
  return *this;
}

JsonLine& JsonLine::value(std::string_view text) {
  separate();
  if (!is_utf8(text)) {  // rare: nlohmann's own replacement of the bytes it cannot take
    out_ += nlohmann::json(std::string(text)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return *this;
  }
  out_ += '"';
  // Runs of plain characters go in at once: names are long and rarely need escapes.
  size_t plain = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c != '"' && c != '\\' && static_cast<unsigned char>(c) >= 0x20) continue;
    out_.append(text.data() + plain, i - plain);
    plain = i + 1;
    switch (c) {
      case '"': out_ += "\\\""; break;
      case '\\': out_ += "\\\\"; break;
      case '\b': out_ += "\\b"; break;
      case '\f': out_ += "\\f"; break;
      case '\n': out_ += "\\n"; break;
      case '\r': out_ += "\\r"; break;
      case '\t': out_ += "\\t"; break;
      default: fmt::format_to(std::back_inserter(out_), FMT_COMPILE("\\u{:04x}"), static_cast<unsigned>(c));
    }
  }
  out_.append(text.data() + plain, text.size() - plain);
  out_ += '"';
  return *this;
}

template <typename Integer>
JsonLine& JsonLine::integer(Integer number) {
  separate();
  const fmt::format_int digits(number);
  out_.append(digits.data(), digits.size());
  return *this;
}

JsonLine& JsonLine::value(int64_t number) { return integer(number); }

JsonLine& JsonLine::value(uint64_t number) { return integer(number); }

JsonLine& JsonLine::value(double number) {
  separate();
  const double magnitude = std::fabs(number);
  // Where fmt's and nlohmann's choice between fixed and exponent notation differ, or for what JSON has
  // no number for (null), nlohmann writes it.
  if (!(number == 0 || (magnitude >= 1e-4 && magnitude < 1e15))) {
    out_ += nlohmann::json(number).dump();
    return *this;
  }
  const size_t start = out_.size();
  fmt::format_to(std::back_inserter(out_), FMT_COMPILE("{}"), number);
  if (out_.find_first_of(".e", start) == std::string::npos) out_ += ".0";
  return *this;
}

JsonLine& JsonLine::value(bool flag) {
  separate();
  out_ += flag ? "true" : "false";
  return *this;
}

JsonLine& JsonLine::null() {
  separate();
  out_ += "null";
  return *this;
}

bool is_utf8(std::string_view text) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const auto in = [](unsigned char c, unsigned lo, unsigned hi) { return c >= lo && c <= hi; };
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = byte(i);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t extra = 0;
    unsigned lo = 0x80, hi = 0xBF;  // the bounds of the second byte
    if (in(c, 0xC2, 0xDF)) extra = 1;
    else if (c == 0xE0) extra = 2, lo = 0xA0;
    else if (in(c, 0xE1, 0xEC) || in(c, 0xEE, 0xEF)) extra = 2;
    else if (c == 0xED) extra = 2, hi = 0x9F;
    else if (c == 0xF0) extra = 3, lo = 0x90;
    else if (in(c, 0xF1, 0xF3)) extra = 3;
    else if (c == 0xF4) extra = 3, hi = 0x8F;
    else return false;
    if (text.size() - i <= extra || !in(byte(i + 1), lo, hi)) return false;
    for (size_t k = 2; k <= extra; ++k) {
      if (!in(byte(i + k), 0x80, 0xBF)) return false;
    }
    i += extra + 1;
  }
  return true;
}

}  // namespace dips
