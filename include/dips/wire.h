#pragma once
#include <cstdint>
#include <memory>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "dips/codec.h"
#include "dips/pipeline.h"
#include "dips/status.h"
#include "dips/tiling.h"

namespace dips {

// Every message tag dips uses, in one place.
enum class Tag : int {
  kPing = 1,           // coordinator -> worker: are you alive? (8-byte sequence number)
  kPong = 2,           // worker -> coordinator: the same bytes back
  kWork = 3,           // coordinator -> worker: a batch of WorkItems
  kResult = 4,         // worker -> coordinator: a batch of ResultItems
  kStop = 5,           // coordinator -> worker: finish (1 byte: 1 = call MPI_Finalize, 0 = exit without it)
  kProtocolError = 6,  // worker -> coordinator: a message it could not parse, without a readable piece id (text)
  kHello = 7,          // coordinator -> worker: a Hello (what to check about the file system)
  kHelloReply = 8,     // worker -> coordinator: a HelloReply
  kFault = 9,          // coordinator -> worker: inject a fault now (test aid, DIPS_FAULT; text: the kind)
  kProgress = 10,      // worker -> coordinator: a DecodeProgress
};

// Bytes owned elsewhere (a message buffer, a file read into memory), kept alive by `owner`.
struct Bytes {
  std::shared_ptr<const void> owner;
  const uint8_t* data = nullptr;
  size_t size = 0;
  bool empty() const { return size == 0; }
  // Bytes that own a copy of `vector`'s contents (moved in).
  static Bytes of(std::vector<uint8_t> vector);
};

// A message ready to send: a small head plus large parts that the transport sends without copying.
struct OutMessage {
  std::vector<uint8_t> head;
  std::vector<Bytes> parts;
  size_t size() const;
  // The whole message as one buffer (for transports that copy anyway, and for tests).
  std::vector<uint8_t> flatten() const;
};

// Where a piece's input comes from.
enum class Source : uint8_t {
  kPath = 1,    // an image file the worker reads itself (shared file system)
  kFile = 2,    // an image file's bytes, carried in the message
  kPixels = 3,  // raw rows of an image (8-bit, 1 or 3 channels), carried in the message
  kPixelFile = 4,  // a decoded image in a pixel file (pixel_file.h) the worker reads itself: `path`
};

// What a piece gives back.
enum class Sink : uint8_t {
  kPixels = 1,     // the rows it produced (plus histogram or decoded strings)
  kEncoded = 2,    // its output encoded in output_ext, as bytes
  kWriteFile = 3,  // its output encoded and written atomically to output_path by the worker
  kBand = 4,       // its rows encoded as their band of the output file (codec.h encode_band), as bytes
  kPixelFile = 5,  // the image written as a pixel file to output_path, for other pieces to read (a probe's);
                   // where it cannot be written, the pixels come back as with kPixels
};

// Which thumbnails (thumbnail.h) a piece makes for the report's gallery.
enum class Thumbnails : uint8_t {
  kNone = 0,
  kOnError = 1,  // the decoded input's, only if the piece then fails (the gallery shows what failed)
  kAlways = 2,   // the decoded input's (file sources) and the delivered output's (encoding sinks)
};

// One piece of work, as plain data: enough for any worker to do it, with no shared state. Reads as
// "take `source` (rows in_row0..in_row1 of it for a band), apply a stage's finish if asked, run the steps,
// deliver to `sink`".
struct WorkItem {
  uint64_t piece_id = 0;
  Source source = Source::kPath;
  std::string path;              // kPath: the input file; kPixelFile: the pixel file
  Bytes file;                    // kFile: the input file's bytes
  cv::Mat pixels;                // kPixels: the source rows
  bool band = false;             // false: `steps` is a whole pipeline run on the whole image;
  PieceRows rows;                // true: `steps` is one stage (tiling.h) run on these rows
  Step finish;                   // op set: first apply this op's finish to the source (Canny's hysteresis,
  std::vector<double> histogram; // the histogram's lookup table from these 256 bins of the whole image)
  Pipeline steps;                // then these; may be empty (a pure decode, finish or encode)
  bool probe = false;            // a file source, no steps: return the image's size and whether its rows decode
                                 // cheaply (codec.h probe_image), and its pixels only when they do not
  bool rows_from_file = true;    // a probe: false returns the pixels even when the rows decode cheaply (the
                                 // bands are too many to decode their own: granularity.h)
  Sink sink = Sink::kPixels;
  std::string output_ext;        // kEncoded, kWriteFile, kBand: ".png", ".jpg", ...
  int image_width = 0, image_height = 0;  // bands: the size of the whole image (kBand: of the output, required)
  std::string output_path;       // kWriteFile, kPixelFile
  bool sync = false;             // kWriteFile: fsync before renaming
  int64_t max_pixels = 0;        // kPath, kFile: refuse to decode images larger than this
  uint64_t max_file_bytes = 0;   // kPath: refuse to read files larger than this
  Thumbnails thumbnails = Thumbnails::kNone;
  uint16_t thumbnail_px = 0;     // their long side, 1..kMaxThumbnailPx when thumbnails are asked for
  bool replace = true;           // kWriteFile: false fails the piece when something has the output's name
};

// The largest thumbnail a work message may ask for, in pixels on the long side.
constexpr uint16_t kMaxThumbnailPx = 1024;

// A worker's answer to one WorkItem.
struct ResultItem {
  uint64_t piece_id = 0;
  std::string error;                 // empty on success
  int width = 0, height = 0;         // file sources: size of the decoded input
  std::vector<std::string> decoded;  // QR strings
  std::vector<double> histogram;     // a band of a histogram stage
  cv::Mat pixels;                    // kPixels: the produced rows
  bool cheap_rows = false;           // a probe: the file's rows decode cheaply (no pixels then)
  Bytes encoded;                     // kEncoded: the output file's bytes; kBand: the band's bytes
  EncodedBand band;                  // kBand: the band's description (its bytes are in `encoded`)
  uint64_t written = 0;              // kWriteFile, kPixelFile: bytes written
  int64_t input_size = -1, input_mtime_ns = -1;  // kPath: the input file as the worker opened it (-1: not read)
  double compute_ms = 0;             // time the worker spent on it
  double queue_ms = 0;               // time it waited in the worker before a thread took it
  Bytes thumbnail_input, thumbnail_output;  // JPEGs, as WorkItem::thumbnails asked (empty otherwise)
  // Bands asked for kAlways: their rows of the whole image's thumbnails (thumbnail.h thumbnail_rows), the
  // input's when the band was decoded from the file, the output's when it was encoded as its part of it.
  cv::Mat thumbnail_input_rows, thumbnail_output_rows;
};

// A decode piece writing its image into a pixel file (Sink::kPixelFile) tells rank 0 how far it is
// (Tag::kProgress), so that bands of the rows already written start while it decodes the rest.
struct DecodeProgress {
  uint64_t piece_id = 0;
  int width = 0, height = 0;  // of the decoded image
  int rows = 0;               // rows [0, rows) are in the pixel file
};

// What rank 0 asks a new worker (kHello): can it see the job's files?
struct Hello {
  std::string probe_path;   // a file rank 0 wrote into the output folder...
  std::string probe_token;  // ...with this content
  std::string input_path;   // an input of the job (may be empty)...
  uint64_t input_size = 0;  // ...and its size as rank 0 sees it
};

// A worker's answer (kHelloReply).
struct HelloReply {
  std::string host;         // its host name
  int64_t pid = 0;
  int threads = 1;          // compute threads
  bool sees_files = false;  // it read the probe token and the input's size as rank 0 wrote them
  std::vector<int> cpus;    // the CPUs it may run on (its affinity), ascending; empty: unknown
};

// Serialises a batch (little-endian, length-prefixed fields; large payloads become parts, 64-byte aligned).
OutMessage encode_work(const std::vector<WorkItem>& items);
// The same from items that stay where they are (rank 0 keeps every piece it sends, to send it again).
OutMessage encode_work(const std::vector<const WorkItem*>& items);
OutMessage encode_result(const std::vector<ResultItem>& items);
std::vector<uint8_t> encode_progress(const DecodeProgress& progress);
std::vector<uint8_t> encode_hello(const Hello& hello);
std::vector<uint8_t> encode_hello_reply(const HelloReply& reply);
// A liveness ping (Tag::kPing): rank 0 sends one while it lists a job and on every --ping-interval after.
OutMessage encode_ping();

// Parses a received buffer. Pixels and bytes of the items point into `buffer` (kept alive by them). Any
// truncation, bad length, unknown operation or out-of-range value is an error status, never a crash
// (fuzzed by tests/fuzz/fuzz_wire.cpp).
Status decode_work(const std::shared_ptr<const std::vector<uint8_t>>& buffer, std::vector<WorkItem>* items);
Status decode_result(const std::shared_ptr<const std::vector<uint8_t>>& buffer, std::vector<ResultItem>* items);
// A progress message: sizes positive, 0 < rows <= height.
Status decode_progress(const std::vector<uint8_t>& buffer, DecodeProgress* progress);
Status decode_hello(const std::vector<uint8_t>& buffer, Hello* hello);
Status decode_hello_reply(const std::vector<uint8_t>& buffer, HelloReply* reply);

// The piece ids a work message carries, read from its head alone: when the rest cannot be decoded, a
// worker fails exactly these pieces instead of leaving them in flight. Empty when even the head is broken.
std::vector<uint64_t> readable_piece_ids(const std::vector<uint8_t>& buffer);

}  // namespace dips
