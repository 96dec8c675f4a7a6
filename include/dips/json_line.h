#pragma once
#include <fmt/format.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace dips {

// Writes one JSON value as text, straight into a buffer, as nlohmann::json's dump() would write it
// (compact; "\u00XX" escapes; a byte that is not UTF-8 becomes U+FFFD, its error_handler_t::replace;
// a non-integral number with its shortest digits, an integral one with ".0"; nlohmann's Grisu2 writes
// a few numbers with more digits than the shortest, the same double). The report writes one line
// per task: building an nlohmann object for it (a node, a copy and a key search per field, then the
// dump) was a third of rank 0's CPU on a folder of thumbnails. The text goes into fmt's memory buffer
// (a line of a small task fits in its inline part): std::string's out-of-line appends, three or four per
// field, made the line 14,000 instructions of rank 0's 32,000 per thumbnail.
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
  // What value(std::round(number * 10^decimals) / 10^decimals) writes, for decimals 1 to 4, without the
  // shortest-digits search: the report's times are such numbers, six of them per task.
  JsonLine& rounded(double number, int decimals);
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
  std::string_view text() const { return {out_.data(), out_.size()}; }

 private:
  JsonLine& open(char bracket);
  JsonLine& close(char bracket);
  void separate() {
    if (!first_) out_.push_back(',');
    first_ = false;
  }
  // Room for n more bytes at the end, to be given back by done(); fmt's append and push_back check the
  // room at every call, which made a field's key cost 150 instructions.
  char* room(size_t n) {
    const size_t at = out_.size();
    out_.resize(at + n);
    return out_.data() + at;
  }
  void done(const char* end) { out_.resize(static_cast<size_t>(end - out_.data())); }
  static char* copy(char* to, std::string_view text) {
    std::memcpy(to, text.data(), text.size());
    return to + text.size();
  }
  void put(std::string_view text) { done(copy(room(text.size()), text)); }
  // Text that needs no escape, between quotes, after a comma where one is due: a key (then its colon) or
  // a value. Inline: called per field, a call of its own cost a fifth more instructions per key.
  void put_quoted(std::string_view text, bool is_key) {
    char* p = room(text.size() + 4);
    if (!first_) *p++ = ',';
    *p++ = '"';
    p = copy(p, text);
    *p++ = '"';
    if (is_key) *p++ = ':';
    done(p);
    first_ = is_key;  // the value that follows a key takes no comma
  }
  void put_escaped(std::string_view text);
  template <typename Integer>
  JsonLine& integer(Integer number);
  fmt::basic_memory_buffer<char, 1024> out_;
  bool first_ = true;  // no element yet in the innermost object or array
};

// Whether text is well-formed UTF-8 (RFC 3629: no overlong forms, surrogates or code points past
// U+10FFFF), as nlohmann::json's dump() checks it.
bool is_utf8(std::string_view text);

}  // namespace dips
