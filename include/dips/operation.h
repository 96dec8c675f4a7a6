#pragma once
#include <opencv2/core.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "dips/status.h"

namespace dips {

// How an operation can be cut into pieces (see docs/design.md).
enum class Tiling {
  kPointwise,      // any row band, no halo
  kNeighbourhood,  // row bands with a halo of halo(param) rows on each side
  kCanny,          // row bands compute candidate/strong maps; hysteresis joins them globally
  kHistogram,      // row bands compute gray pixels and a histogram; a lookup table finishes
  kWholeImage,     // needs the whole image in one piece
};

// Name of a tiling kind, as printed by --list-ops and --dry-run.
const char* tiling_name(Tiling tiling);

// The integer parameter an operation takes, if any.
struct ParamSpec {
  bool accepted = false;  // false: "op=N" is an error
  int default_value = 0;  // used when no "=N" is given
  int min = 0;            // inclusive valid range
  int max = 0;
};

// The result of an operation on a whole image: pixels and, for read_qr_code, decoded strings.
struct OpResult {
  cv::Mat image;
  std::vector<std::string> decoded;
};

// How many channels an operation's output has.
enum class OutputChannels { kSame, kGray, kColour };

// Values of a Canny piece map (kCanny tiling): what a pixel is before hysteresis.
enum CannyMark : unsigned char { kNotEdge = 0, kCandidate = 1, kStrong = 2 };

// One image operation. Every operation accepts 8-bit images of 1 or 3 channels (a 1-channel image is the
// gray image of a previous step; operations that draw in colour expand it to BGR first) and is exact to
// docs/operations.md: the same OpenCV 4.6 calls on the whole image.
struct Operation {
  std::string_view name;
  std::string_view description;
  ParamSpec param;
  Tiling tiling;
  OutputChannels channels;
  // Rows of real neighbouring pixels a piece needs above and below its own rows.
  int (*halo)(int param);
  // The operation on a whole image (or, for kPointwise/kNeighbourhood, on a piece with its halo).
  // May throw cv::Exception; callers catch it at the piece boundary.
  OpResult (*apply)(const cv::Mat& image, int param);
  // kCanny: the CannyMark map of a piece with its halo. kHistogram: the gray image of a piece.
  // Null for the other tilings.
  cv::Mat (*partial)(const cv::Mat& image, int param);
  // kCanny and kHistogram: the whole result from the stitched partials (and, for kHistogram, the
  // summed 256-bin histogram of the stitched gray image). Null for the other tilings.
  cv::Mat (*finish)(const cv::Mat& stitched, const std::vector<double>& histogram);
  // The work of its bands against the whole image's (granularity.h cuts only when the threads outnumber
  // it): kCanny's partial runs Canny once and looks at the gradient of its candidates, and one worker
  // then joins the bands by hysteresis (measured on a 50 MP photo: ~1.15 and ~0.15 of a whole Canny).
  double band_work = 1.0;
};

// Every operation dips knows, in the order --list-ops prints them.
const std::vector<Operation>& operations();

// The operation with this name, or nullptr.
const Operation* find_operation(std::string_view name);

// One step of a pipeline: an operation and its (validated) parameter.
struct Step {
  const Operation* op = nullptr;
  int param = 0;
};

// Checks a parameter text for op ("" when none was given) and stores the value in *param.
// The error names the operation and the valid range.
Status parse_param(const Operation& op, std::string_view text, bool given, int* param);

// Channels of a pipeline's output for an input of `input_channels` (the decoded input has 3).
int output_channels(const std::vector<Step>& pipeline, int input_channels);

// Applies a step to a whole image; cv::Exception and std::exception become an error status.
Status apply_step(const Step& step, const cv::Mat& image, OpResult* result);

// 256-bin histogram of an 8-bit 1-channel image, as doubles (exact for any realistic size).
std::vector<double> gray_histogram(const cv::Mat& gray);

// Pixels marked kCandidate that are 8-connected (through candidates) to a kStrong pixel become 255, all
// else 0: the hysteresis step of Canny on a stitched map.
cv::Mat canny_hysteresis(const cv::Mat& marks);

// cv::equalizeHist's lookup table for a histogram, reproduced so that tiles can share one histogram.
// Returns false (and leaves *lut empty) for an empty histogram.
cv::Mat equalize_lut(const std::vector<double>& histogram);

}  // namespace dips
