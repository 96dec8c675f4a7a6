#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace dips {

// Writes one JSON value as text, straight into a string, as nlohmann::json's dump() would write it
// (compact; "\u00XX" escapes; a byte that is not UTF-8 becomes U+FFFD, its error_handler_t::replace;
// a non-integral number with its shortest digits, an integral one with ".0"). The report writes one line
// per task: building an nlohmann object for it (a node, a copy and a key search per field, then the
// dump) was a third of rank 0's CPU on a folder of thumbnails.
//
// Calls must nest as JSON does: key() before each value of an object, none in an array.
class JsonLine {
 public:
  JsonLine& begin_object() { return open('{'); }
  JsonLine& end_object() { return close('}'); }
  JsonLine& begin_array() { return open('['); }
  JsonLine& end_array() { return close(']'); }
  JsonLine& key(std::string_view name);  // a name the caller knows is plain ASCII without escapes
  JsonLine& value(std::string_view text);
  JsonLine& value(const char* text) { return value(std::string_view(text)); }
  JsonLine& value(int64_t number);
  JsonLine& value(uint64_t number);
  JsonLine& value(int number) { return value(static_cast<int64_t>(number)); }
  JsonLine& value(double number);
  JsonLine& value(bool flag);
  JsonLine& null();
  template <typename T>
  JsonLine& field(std::string_view name, const T& v) {
    key(name);
    return value(v);
  }
  // An array of values (strings or numbers) as a field.
  template <typename Range>
  JsonLine& array_field(std::string_view name, const Range& items) {
    key(name).begin_array();
    for (const auto& item : items) value(item);
    return end_array();
  }
  // Room for `bytes` of text, so that a line of known size grows without reallocating.
  void reserve(size_t bytes) { out_.reserve(bytes); }
  const std::string& text() const { return out_; }
  std::string take() && { return std::move(out_); }

 private:
  JsonLine& open(char bracket);
  JsonLine& close(char bracket);
  void separate();
  template <typename Integer>
  JsonLine& integer(Integer number);
  std::string out_;
  bool first_ = true;  // no element yet in the innermost object or array
};

// Whether text is well-formed UTF-8 (RFC 3629: no overlong forms, surrogates or code points past
// U+10FFFF), as nlohmann::json's dump() checks it.
bool is_utf8(std::string_view text);

}  // namespace dips
