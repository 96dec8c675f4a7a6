// libFuzzer target: the wire decoders (decode_work, decode_result, decode_hello, decode_hello_reply,
// decode_progress, readable_piece_ids) on arbitrary bytes (docs/fuzzing.md).
// Invariants: no crash, hang or sanitizer report; whatever decodes meets the rules of tests/wire_checks.h
// (the limits and consistency checks of wire.h) and re-encodes to exactly the same bytes, also after the
// received buffer is dropped (decoded pixels and bytes keep it alive); readable_piece_ids gives the ids of
// every work message that decodes. No image operation is run on a decoded message.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "../wire_checks.h"
#include "dips/wire.h"

namespace {

void check(bool condition, const char* what) {
  if (condition) return;
  std::fprintf(stderr, "fuzz_wire: %s\n", what);
  std::abort();
}

void check_sane(const std::string& problem) {
  if (problem.empty()) return;
  std::fprintf(stderr, "fuzz_wire: decoded but not sane: %s\n", problem.c_str());
  std::abort();
}

void fuzz_work(const std::vector<uint8_t>& input) {
  auto buffer = std::make_shared<const std::vector<uint8_t>>(input);
  std::vector<dips::WorkItem> items;
  const bool decoded = dips::decode_work(buffer, &items).ok();
  const std::vector<uint64_t> ids = dips::readable_piece_ids(input);
  check(ids.size() <= input.size() / 8, "more ids than the message can hold");
  if (!decoded) return;
  buffer.reset();  // the items alone keep the bytes they point into alive
  for (size_t i = 0; i < items.size(); ++i) {
    check_sane(dips::testing::work_problem(items[i]));
    check(i < ids.size() && ids[i] == items[i].piece_id, "readable_piece_ids differs from the decoded ids");
  }
  check(ids.size() == items.size(), "readable_piece_ids differs from the decoded ids");
  check(dips::encode_work(items).flatten() == input, "a decoded work message re-encodes differently");
}

void fuzz_result(const std::vector<uint8_t>& input) {
  auto buffer = std::make_shared<const std::vector<uint8_t>>(input);
  std::vector<dips::ResultItem> items;
  if (!dips::decode_result(buffer, &items).ok()) return;
  buffer.reset();
  for (const dips::ResultItem& item : items) check_sane(dips::testing::result_problem(item));
  check(dips::encode_result(items).flatten() == input, "a decoded result message re-encodes differently");
}

void fuzz_hello(const std::vector<uint8_t>& input) {
  dips::Hello hello;
  if (dips::decode_hello(input, &hello).ok()) {
    check(dips::encode_hello(hello) == input, "a decoded hello re-encodes differently");
  }
  dips::HelloReply reply;
  if (dips::decode_hello_reply(input, &reply).ok()) {
    check_sane(dips::testing::hello_reply_problem(reply));
    check(dips::encode_hello_reply(reply) == input, "a decoded hello reply re-encodes differently");
  }
}

void fuzz_progress(const std::vector<uint8_t>& input) {
  dips::DecodeProgress progress;
  if (!dips::decode_progress(input, &progress).ok()) return;
  check(progress.width > 0 && progress.height > 0 && progress.rows > 0 && progress.rows <= progress.height,
        "a decoded progress out of range");
  check(dips::encode_progress(progress) == input, "a decoded progress re-encodes differently");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> input(data, data + size);
  fuzz_work(input);
  fuzz_result(input);
  fuzz_hello(input);
  fuzz_progress(input);
  return 0;
}
