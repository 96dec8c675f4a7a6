#include "dips/json_line.h"

#include <fmt/compile.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

namespace dips {

namespace {

// The bytes a JSON string holds as they are: printable ASCII but the quote and the backslash (nlohmann
// escapes only these and the controls; a byte from 0x80 on is part of UTF-8, checked apart).
constexpr std::array<bool, 256> kPlainBytes = [] {
  std::array<bool, 256> plain{};
  for (int c = 0x20; c < 0x80; ++c) plain[c] = c != '"' && c != '\\';
  return plain;
}();

bool all_plain(std::string_view text) {
  for (const char c : text) {
    if (!kPlainBytes[static_cast<unsigned char>(c)]) return false;
  }
  return true;
}

}  // namespace

JsonLine& JsonLine::open(char bracket) {
  separate();
  out_.push_back(bracket);
  first_ = true;
  return *this;
}

JsonLine& JsonLine::close(char bracket) {
  out_.push_back(bracket);
  first_ = false;
  return *this;
}

JsonLine& JsonLine::key(std::string_view name) {
  put_quoted(name, true);
  return *this;
}

JsonLine& JsonLine::value(std::string_view text) {
  if (all_plain(text)) {  // names mostly: no escape, no UTF-8 to check
    put_quoted(text, false);
    return *this;
  }
  separate();
  if (!is_utf8(text)) {  // rare: nlohmann's own replacement of the bytes it cannot take
    put(nlohmann::json(std::string(text)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    return *this;
  }
  put_escaped(text);
  return *this;
}

void JsonLine::put_escaped(std::string_view text) {
  out_.push_back('"');
  // Runs of plain characters go in at once.
  size_t plain = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c != '"' && c != '\\' && static_cast<unsigned char>(c) >= 0x20) continue;
    put(text.substr(plain, i - plain));
    plain = i + 1;
    switch (c) {
      case '"': put("\\\""); break;
      case '\\': put("\\\\"); break;
      case '\b': put("\\b"); break;
      case '\f': put("\\f"); break;
      case '\n': put("\\n"); break;
      case '\r': put("\\r"); break;
      case '\t': put("\\t"); break;
      default: fmt::format_to(fmt::appender(out_), FMT_COMPILE("\\u{:04x}"), static_cast<unsigned>(c));
    }
  }
  put(text.substr(plain));
  out_.push_back('"');
}

template <typename Integer>
JsonLine& JsonLine::integer(Integer number) {
  separate();
  const fmt::format_int digits(number);
  put(std::string_view(digits.data(), digits.size()));
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
    put(nlohmann::json(number).dump());
    return *this;
  }
  char digits[40];  // the longest shortest form in this range is 22 characters, with ".0" 24
  char* end = fmt::format_to(digits, FMT_COMPILE("{}"), number);
  if (std::find_if(digits, end, [](char c) { return c == '.' || c == 'e'; }) == end) end = copy(end, ".0");
  put(std::string_view(digits, static_cast<size_t>(end - digits)));
  return *this;
}

JsonLine& JsonLine::rounded(double number, int decimals) {
  static constexpr uint64_t kScales[] = {1, 10, 100, 1000, 10000};
  decimals = std::clamp(decimals, 1, 4);
  const uint64_t scale = kScales[decimals];
  const double units = std::round(number * static_cast<double>(scale));
  const double result = units / static_cast<double>(scale);
  // Below 1e11 doubles lie closer than 1e-4 apart, so no other decimal of at most four places reads back
  // as `result`: its own decimal, trailing zeros dropped, is the shortest one, which value() would write.
  if (!(std::fabs(result) >= 1e-4 && std::fabs(result) < 1e11)) return value(result);
  separate();
  const uint64_t magnitude = static_cast<uint64_t>(std::fabs(units));
  char text[40];
  char* p = text;
  if (units < 0) *p++ = '-';
  const fmt::format_int whole(magnitude / scale);
  p = copy(p, std::string_view(whole.data(), whole.size()));
  *p++ = '.';
  uint64_t fraction = magnitude % scale;
  if (fraction == 0) {
    *p++ = '0';
  } else {
    char* end = p + decimals;
    for (char* digit = end; digit != p;) {
      *--digit = static_cast<char>('0' + fraction % 10);
      fraction /= 10;
    }
    while (end[-1] == '0') --end;
    p = end;
  }
  put(std::string_view(text, static_cast<size_t>(p - text)));
  return *this;
}

JsonLine& JsonLine::value(bool flag) {
  separate();
  put(flag ? "true" : "false");
  return *this;
}

JsonLine& JsonLine::null() {
  separate();
  put("null");
  return *this;
}

bool is_utf8(std::string_view text) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const auto in = [](unsigned char c, unsigned lo, unsigned hi) { return c >= lo && c <= hi; };
  for (size_t i = 0; i < text.size();) {
    uint64_t eight = 0;  // ASCII runs eight bytes at a time
    if (text.size() - i >= sizeof eight && (std::memcpy(&eight, text.data() + i, sizeof eight), (eight & 0x8080808080808080ULL) == 0)) {
      i += sizeof eight;
      continue;
    }
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
