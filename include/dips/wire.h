#pragma once
#include <cstdint>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "dips/pipeline.h"
#include "dips/status.h"
#include "dips/tiling.h"

namespace dips {

// Every MPI message tag dips uses, in one place.
enum class Tag : int {
  kPing = 1,    // coordinator -> worker: are you alive? (8-byte sequence number)
  kPong = 2,    // worker -> coordinator: the same sequence number back
  kWork = 3,    // coordinator -> worker: a WorkMessage
  kResult = 4,  // worker -> coordinator: a ResultMessage
  kStop = 5,    // coordinator -> worker: finish (1 byte: 1 = call MPI_Finalize, 0 = exit without it)
  kProtocolError = 6,  // either way: the peer sent something undecodable (text message)
};

// What a piece of work asks the worker to do.
enum class WorkKind : uint8_t {
  kFile = 1,    // payload: an encoded image file; decode, run the whole pipeline, encode as output_ext
  kBand = 2,    // payload: raw rows of a stage input; run the stage (one stage of the pipeline) on them
  kEncode = 3,  // payload: a raw image; encode it as output_ext
};

// A piece of work as plain data: enough for any worker to do it, with no shared state.
struct WorkMessage {
  uint64_t piece_id = 0;
  WorkKind kind = WorkKind::kFile;
  Pipeline steps;             // kFile: the whole pipeline; kBand: the stage's steps
  PieceRows rows;             // kBand only
  std::string output_ext;     // kFile, kEncode: ".png", ".jpg", ...
  int64_t max_pixels = 0;     // kFile: refuse to decode images larger than this
  cv::Mat image;              // kBand, kEncode: the pixels (8-bit, 1 or 3 channels)
  std::vector<uint8_t> bytes; // kFile: the file's bytes
};

// A worker's answer to one WorkMessage.
struct ResultMessage {
  uint64_t piece_id = 0;
  std::string error;                 // empty on success
  int width = 0, height = 0;         // kFile: size of the decoded input
  std::vector<std::string> decoded;  // QR strings
  std::vector<double> histogram;     // kBand of a kHistogram stage
  cv::Mat image;                     // kBand: the output rows
  std::vector<uint8_t> bytes;        // kFile, kEncode: the encoded output
  double compute_ms = 0;             // time the worker spent on it
};

// Serialises a message into one contiguous buffer (little-endian, length-prefixed fields).
std::vector<uint8_t> encode_work(const WorkMessage& message);
std::vector<uint8_t> encode_result(const ResultMessage& message);

// Parses a buffer; any truncation, bad length, unknown operation or out-of-range value is an error
// status, never a crash (fuzzed by tests/fuzz/fuzz_wire.cpp).
Status decode_work(const uint8_t* data, size_t size, WorkMessage* message);
Status decode_result(const uint8_t* data, size_t size, ResultMessage* message);

}  // namespace dips
