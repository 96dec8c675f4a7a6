#pragma once
#include <cstdint>
#include <map>
#include <string>

#include "dips/pipeline.h"

namespace dips {

// How a task is cut into pieces.
struct TaskShape {
  bool bands = false;  // false: the whole file is one piece (decoded, processed, encoded by one worker)
  int tile_rows = 0;   // bands: rows per band of every stage
  // bands: the first stage's bands may decode their own rows from the input file where that is cheap (a
  // JPEG, codec.h ImageInfo::cheap_rows); false: one worker decodes the image for all of them.
  bool rows_from_file = false;
};

// What the granularity policy looks at for one task.
struct ShapeInput {
  int tile_rows_option = 0;   // --tile-rows (0: automatic)
  int width = 0, height = 0;  // the image's size from its header; 0 when not read
  int working_threads = 1;    // compute threads of the live workers that take pieces (not standing by)
  size_t tasks_left = 1;      // tasks of the job not yet started, this one included
  int other_tasks = 0;        // tasks of the job started and not finished, this one excluded
  double band_work = 1.0;     // band_work (tiling.h) of the pipeline's stages: 0 when none can be cut
  bool top_down = false;      // the file decodes from the top row down, in one stream (codec.h decodes_top_down),
                              // into a pixel file that its bands read as it is written (shared files)
};

// The granularity policy. While more tasks wait than there are compute threads, a whole file is the best
// piece at any size: no stitching, no extra copies, codec work on the worker. Bands pay off only when
// threads would otherwise wait: the job's last few tasks (fewer left than threads) when they are large
// (at least kMinBandPixels), e.g. a single huge image, and only when the threads outnumber the extra work of
// bands (band_work: an operation whose bands did twice the work would gain nothing on two threads). Bands
// that do more than the whole image's work (band_work > 1) are cut only while enough threads are free of
// other tasks to share them at once: a thread busy with another image may stay busy for as long as this
// one takes whole, and the extra work is then paid for nothing. --tile-rows N forces bands of N rows on
// every image taller than N. Bands are sized for about two per thread and at least kBandPixels each; for
// a file that decodes top-down into a pixel file (top_down), kTopDownBandsPerThread per thread: its first stage's bands start as the
// decoding worker writes their rows (task_run.h), and small ones keep the other threads busy from the
// first rows on and share the rows left after the decoding evenly.
// A band that decodes its own rows of a JPEG still entropy-decodes every row above them: B such bands
// cost about 1 + kRowSkipShare * (B - 1) / 2 decodes of the image (codec.h decode_rows; the last 16 rows of
// three photos, 3 to 50 MP, cost 36-55% of the whole decode). They decode their own rows (rows_from_file)
// only while threads would otherwise wait, and only as long as that, shared by the threads, stays under one
// decode by one thread: with more tasks than threads, or more bands than 1 + 2 (threads - 1) /
// kRowSkipShare (--tile-rows 64 made 24 bands of a 2000x1500 JPEG cost 7.6 decodes), one worker decodes it.
TaskShape choose_shape(const ShapeInput& input);

constexpr double kRowSkipShare = 0.5;

constexpr int kTopDownBandsPerThread = 8;

// Images smaller than this are never cut automatically.
constexpr double kMinBandPixels = 4e6;
// Automatic bands hold at least this many pixels.
constexpr double kBandPixels = 2e6;

// Whether the policy could cut a task of this size when it is among the last: tells rank 0 whether to
// read the header of such a file at all (a small file is whole whatever its size on the header says).
bool may_cut(uint64_t file_bytes, int tile_rows_option);

// Estimated seconds of work per piece, learned from what workers report, so that the scheduler keeps each
// worker supplied with enough work and no more (scheduler.h). Keys name a kind of work (e.g. a pipeline
// on whole files of one format); units are what the work scales with (file bytes, pixels).
class CostModel {
 public:
  // Seconds for `units` of work of this kind: learned seconds per unit, or the initial guess.
  double estimate(const std::string& key, double units) const;
  // Folds in a measured piece (an exponential moving average of seconds per unit).
  void observe(const std::string& key, double units, double seconds);

 private:
  std::map<std::string, double> seconds_per_unit_;
};

}  // namespace dips
