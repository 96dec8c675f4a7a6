#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "dips/operation.h"
#include "dips/status.h"

namespace dips {

// Operations applied in order, each to the previous one's result.
using Pipeline = std::vector<Step>;

// Parses "blur=3,edge_detection": comma-separated operation names, each with an optional "=N".
// Errors name the offending step and what is accepted.
Status parse_pipeline(std::string_view text, Pipeline* pipeline);

// The canonical text of a pipeline ("blur=3,edge_detection"), with every parameter written out.
std::string pipeline_text(const Pipeline& pipeline);

// Applies every step to the whole image in one process: the reference dips must match exactly.
// Decoded strings of every read_qr_code step are appended to result->decoded, in order.
Status run_pipeline_whole(const cv::Mat& image, const Pipeline& pipeline, OpResult* result);

}  // namespace dips
