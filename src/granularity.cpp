#include "dips/granularity.h"

#include <algorithm>
#include <cmath>

namespace dips {
namespace {

// A first guess before any piece of a kind has been measured: 50 ms per megabyte or megapixel, on the
// slow side, so that a job starts with few pieces per worker and widens the pipeline as it learns.
constexpr double kInitialSecondsPerUnit = 50e-9;
constexpr double kLearningRate = 0.2;

// Smallest file that can hold an image of kMinBandPixels: JPEG rarely compresses photos below ~0.05 bytes
// per pixel.
constexpr double kMinBytesPerPixel = 0.05;

bool bands_decode_own_rows(const ShapeInput& in, int tile_rows, bool threads_would_wait) {
  const int bands = (in.height + tile_rows - 1) / tile_rows;
  return threads_would_wait && bands <= 1 + 2 * (std::max(1, in.working_threads) - 1) / kRowSkipShare;
}

}  // namespace

TaskShape choose_shape(const ShapeInput& in) {
  TaskShape shape;
  if (in.height <= 0 || in.band_work <= 0) return shape;
  const bool threads_would_wait = in.tasks_left < static_cast<size_t>(std::max(1, in.working_threads));
  if (in.tile_rows_option > 0) {
    shape.bands = in.height > in.tile_rows_option;
    shape.tile_rows = in.tile_rows_option;
    shape.rows_from_file = bands_decode_own_rows(in, shape.tile_rows, threads_would_wait);
    return shape;
  }
  const double pixels = static_cast<double>(in.width) * in.height;
  if (in.working_threads <= 1 || pixels < kMinBandPixels || !threads_would_wait) return shape;
  if (in.band_work > 1 && in.working_threads - in.other_tasks <= in.band_work) return shape;
  const int by_threads = (in.top_down ? kTopDownBandsPerThread : 2) * in.working_threads;
  const int by_size = std::max(1, static_cast<int>(pixels / kBandPixels));
  const int bands = std::max(2, std::min(by_threads, by_size));
  shape.bands = true;
  shape.tile_rows = std::max(1, (in.height + bands - 1) / bands);
  shape.rows_from_file = bands_decode_own_rows(in, shape.tile_rows, threads_would_wait);
  return shape;
}

bool may_cut(uint64_t file_bytes, int tile_rows_option) {
  return tile_rows_option > 0 || static_cast<double>(file_bytes) >= kMinBandPixels * kMinBytesPerPixel;
}

double CostModel::estimate(const std::string& key, double units) const {
  auto it = seconds_per_unit_.find(key);
  return units * (it == seconds_per_unit_.end() ? kInitialSecondsPerUnit : it->second);
}

void CostModel::observe(const std::string& key, double units, double seconds) {
  if (units <= 0 || seconds < 0) return;
  const double rate = seconds / units;
  auto [it, fresh] = seconds_per_unit_.emplace(key, rate);
  if (!fresh) it->second += kLearningRate * (rate - it->second);
}

}  // namespace dips
