// json_line: task lines written straight as text are, byte for byte, what nlohmann::json built and dumped
// (the way dips wrote them before, kept here as the reference), whatever the names, numbers and pieces.
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <cmath>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "dips/json_line.h"
#include "dips/report.h"

using namespace dips;
using Json = nlohmann::ordered_json;

namespace {

// The reference: report lines as nlohmann built them.
double rounded(double value, double scale) { return std::round(value * scale) / scale; }

bool reference_utf8(const std::string& text) {
  try {
    (void)nlohmann::json(text).dump();  // the strict dump throws on a byte sequence that is not UTF-8
    return true;
  } catch (const nlohmann::json::type_error&) {
    return false;
  }
}

Json reference_piece(const PieceRecord& p) {
  Json piece = {{"kind", p.kind}, {"stage", p.stage}};
  if (p.row1 > p.row0) piece["rows"] = {p.row0, p.row1};
  piece["worker"] = p.worker;
  if (!p.lost_on.empty()) piece["lost_on"] = p.lost_on;
  piece["sent"] = rounded(p.sent, 1e4);
  piece["done"] = rounded(p.done, 1e4);
  piece["compute_ms"] = rounded(p.compute_ms, 1e3);
  piece["queue_ms"] = rounded(p.queue_ms, 1e3);
  piece["bytes_out"] = p.bytes_out;
  piece["bytes_in"] = p.bytes_in;
  piece["ok"] = p.ok;
  if (p.id != 0) piece["id"] = p.id;
  if (!p.lost_sent.empty()) {
    Json sent = Json::array();
    for (double t : p.lost_sent) sent.push_back(rounded(t, 1e4));
    piece["lost_sent"] = std::move(sent);
  }
  if (!p.outcome.empty()) piece["outcome"] = p.outcome;
  if (!p.also_on.empty()) {
    piece["also_on"] = p.also_on;
    Json sent = Json::array();
    for (double t : p.also_sent) sent.push_back(rounded(t, 1e4));
    piece["also_sent"] = std::move(sent);
  }
  return piece;
}

std::string reference_line(const TaskRecord& r, const std::string& input_base64, const std::string& output_base64) {
  Json j;
  j["input"] = r.input;
  if (!reference_utf8(r.input)) j["input_base64"] = input_base64;
  j["output"] = r.output;
  if (!reference_utf8(r.output)) j["output_base64"] = output_base64;
  j.update(Json{{"ops", r.ops}, {"status", r.ok ? "ok" : "error"}, {"error", r.ok ? Json(nullptr) : Json(r.error)},
                {"decoded", r.decoded}, {"width", r.width}, {"height", r.height}, {"ms", rounded(r.ms, 1e3)}, {"ranks", r.ranks}});
  if (!r.origin.empty()) j["origin"] = r.origin;
  if (r.input_size >= 0) j["input_size"] = r.input_size;
  if (r.input_mtime_ns >= 0) j["input_mtime_ns"] = r.input_mtime_ns;
  if (r.output_size >= 0) j["output_size"] = r.output_size;
  Json pieces = Json::array();
  for (const PieceRecord& p : r.pieces) pieces.push_back(reference_piece(p));
  j["pieces"] = std::move(pieces);
  if (r.task >= 0) j["task"] = r.task;
  if (r.t > 0) j["t"] = rounded(r.t, 1e4);
  if (!r.rank0.empty()) {
    Json spans = Json::array();
    for (const Rank0Span& span : r.rank0) {
      spans.push_back({{"op", span.op}, {"t0", rounded(span.t0, 1e4)}, {"t1", rounded(span.t1, 1e4)}, {"bytes", span.bytes}});
    }
    j["rank0"] = std::move(spans);
  }
  if (!r.thumbnail_input.empty() || !r.thumbnail_output.empty()) {
    Json thumbnails = Json::object();
    if (!r.thumbnail_input.empty()) thumbnails["input"] = r.thumbnail_input;
    if (!r.thumbnail_output.empty()) thumbnails["output"] = r.thumbnail_output;
    j["thumbnails"] = std::move(thumbnails);
  }
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// Random text: plain names mostly, sometimes every kind of byte (quotes, controls, UTF-8 of every
// length, broken sequences, overlong forms, surrogates).
std::string random_text(std::mt19937& rng) {
  static const std::vector<std::string> pieces = {"a", "photo", "/", ".png", " ", "\"", "\\", "\n", "\t", "\x01", "\x1f", "\x7f",
                                                  "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xe9", "\xc3", "\xe2\x82",
                                                  "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xef\xbf\xbd", "\xf5\x80\x80\x80", "\xe0\x80\x80"};
  std::string text;
  const int n = static_cast<int>(rng() % 6);
  for (int i = 0; i < n; ++i) text += pieces[rng() % pieces.size()];
  return text;
}

double random_number(std::mt19937& rng) {
  static const std::vector<double> special = {0, 1, 2.5, 1e-4, 0.00049, 99999.9999, 123456789.123, 1e14, -3.25, 7e-5};
  if (rng() % 4 == 0) return special[rng() % special.size()];
  return std::ldexp(static_cast<double>(rng() % 1000000), -static_cast<int>(rng() % 30));
}

}  // namespace

TEST_CASE("json_line: task lines are what nlohmann built, byte for byte", "[report][json_line]") {
  std::mt19937 rng(20261130);
  for (int round = 0; round < 3000; ++round) {
    TaskRecord r;
    r.input = random_text(rng);
    r.output = random_text(rng);
    r.ops = random_text(rng);
    r.ok = rng() % 2 == 0;
    r.error = random_text(rng);
    for (int i = static_cast<int>(rng() % 3); i > 0; --i) r.decoded.push_back(random_text(rng));
    r.width = static_cast<int>(rng() % 100000);
    r.height = -static_cast<int>(rng() % 3);
    r.ms = random_number(rng);
    for (int i = static_cast<int>(rng() % 3); i > 0; --i) r.ranks.push_back(static_cast<int>(rng() % 20));
    if (rng() % 2) r.origin = random_text(rng);
    r.input_size = static_cast<int64_t>(rng() % 3) - 1;
    r.input_mtime_ns = rng() % 2 ? 1795992996400681947 : -1;
    r.output_size = static_cast<int64_t>(rng()) - 1000;
    for (int i = static_cast<int>(rng() % 3); i > 0; --i) {
      PieceRecord p;
      p.kind = random_text(rng);
      p.stage = static_cast<int>(rng() % 4);
      p.row0 = static_cast<int>(rng() % 50);
      p.row1 = static_cast<int>(rng() % 100);
      p.worker = static_cast<int>(rng() % 5) - 1;
      for (int k = static_cast<int>(rng() % 3); k > 0; --k) p.lost_on.push_back(static_cast<int>(rng() % 9)), p.lost_sent.push_back(random_number(rng));
      p.sent = random_number(rng);
      p.done = random_number(rng);
      p.compute_ms = random_number(rng);
      p.queue_ms = random_number(rng);
      p.bytes_out = rng();
      p.bytes_in = static_cast<uint64_t>(rng()) << 20;
      p.ok = rng() % 2 == 0;
      p.id = rng() % 3 ? rng() : 0;
      if (rng() % 2) p.outcome = "ok";
      for (int k = static_cast<int>(rng() % 2); k > 0; --k) p.also_on.push_back(static_cast<int>(rng() % 9)), p.also_sent.push_back(random_number(rng));
      r.pieces.push_back(p);
    }
    r.task = static_cast<int64_t>(rng() % 5) - 1;
    r.t = random_number(rng);
    if (rng() % 3 == 0) r.rank0 = {Rank0Span{random_text(rng), random_number(rng), random_number(rng), rng()}};
    if (rng() % 4 == 0) r.thumbnail_input = "AAAA";
    if (rng() % 4 == 0) r.thumbnail_output = "BBBB";
    const std::string line = task_line(r);
    // The base64 of a name is the writer's own (report.cpp): taken from its line, checked by --resume's tests.
    const nlohmann::json parsed = nlohmann::json::parse(line);
    const std::string in64 = parsed.value("input_base64", ""), out64 = parsed.value("output_base64", "");
    INFO("round " << round);
    REQUIRE(line == reference_line(r, in64, out64));
    CHECK(is_utf8(r.input) == reference_utf8(r.input));
  }
}

TEST_CASE("json_line: is_utf8 agrees with nlohmann on every short byte sequence", "[json_line]") {
  std::vector<std::string> samples;
  for (int a = 0; a < 256; ++a) {
    samples.push_back(std::string(1, static_cast<char>(a)));
    for (int b : {0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xff}) {
      samples.push_back({static_cast<char>(a), static_cast<char>(b)});
      for (int c : {0x80, 0xbf, 0x41}) {
        samples.push_back({static_cast<char>(a), static_cast<char>(b), static_cast<char>(c)});
        samples.push_back({static_cast<char>(a), static_cast<char>(b), static_cast<char>(c), '\x80'});
      }
    }
  }
  for (const std::string& s : samples) {
    std::string hex;
    for (char c : s) hex += " " + std::to_string(static_cast<unsigned char>(c));
    INFO("bytes" << hex);
    REQUIRE(is_utf8(s) == reference_utf8(s));
    // Also behind and before ASCII runs that is_utf8 skips eight bytes at a time, at every offset.
    for (const std::string& ascii : {std::string("0123456"), std::string("01234567"), std::string("0123456789abc")}) {
      REQUIRE(is_utf8(ascii + s) == reference_utf8(s));
      REQUIRE(is_utf8(s + ascii) == reference_utf8(s));
      REQUIRE(is_utf8(ascii + s + ascii + ascii) == reference_utf8(s));
    }
  }
}

TEST_CASE("json_line: a number rounded to places is written as the rounded double is", "[json_line]") {
  std::mt19937_64 rng(20261203);
  std::vector<double> numbers = {0, -0.0, 0.00004, -0.00004, 0.00005, 0.0001, 0.00015, 0.0005, 0.00049, 0.5, 1, 2.5, -3.25, 0.1, 0.2, 0.3,
                                 1.0005, 9.99995, 99999.99995, 123456.78905, 1e10, 99999999999.99, 1e11, 1e11 + 0.5, 1e12, 1e15, 1e16, -1e13,
                                 std::nan(""), INFINITY, -INFINITY, 4503599627370496.0, 1.7976931348623157e308, 5e-324};
  for (int i = 0; i < 200000; ++i) {
    const double magnitude = std::ldexp(1.0, static_cast<int>(rng() % 60) - 20);  // 1e-6 to 1e12
    const double x = magnitude * (static_cast<double>(rng() % 1000000) / 1000000);
    numbers.push_back(rng() % 5 == 0 ? -x : x);
    // Exact ties and neighbours of four-place decimals, where rounding could go either way.
    const double tie = (static_cast<double>(rng() % 100000000) + 0.5) / 1e4;
    numbers.push_back(tie);
    numbers.push_back(std::nextafter(tie, 0.0));
    numbers.push_back(std::nextafter(tie, 1e20));
  }
  for (const double x : numbers) {
    for (const int places : {1, 2, 3, 4}) {
      const double scale = std::pow(10.0, places);
      JsonLine fast, reference;
      fast.begin_array().rounded(x, places).end_array();
      reference.begin_array().value(std::round(x * scale) / scale).end_array();
      INFO(fmt::format("{} to {} places", x, places));
      REQUIRE(fast.text() == reference.text());
      // and reads back as that double (nlohmann's own dump may differ: its Grisu2 writes a few numbers with
      // more digits than the shortest, 9429449.703400001 for 9429449.7034).
      const nlohmann::json back = nlohmann::json::parse(fast.text());
      if (std::isfinite(x * scale)) REQUIRE(back[0].get<double>() == std::round(x * scale) / scale);
    }
  }
}

TEST_CASE("json_line: numbers and nesting", "[json_line]") {
  JsonLine line;
  line.begin_object().field("a", 1).field("b", 0.5).field("c", 2.0).key("d").begin_array().value(1e-5).value(-0.0).null();
  line.begin_object().end_object().begin_array().end_array().end_array().field("e", true).field("f", uint64_t{18446744073709551615u});
  line.field("g", std::nan("")).end_object();
  CHECK(line.text() == R"({"a":1,"b":0.5,"c":2.0,"d":[1e-05,-0.0,null,{},[]],"e":true,"f":18446744073709551615,"g":null})");
}
