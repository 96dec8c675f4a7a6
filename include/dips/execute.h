#pragma once
#include <functional>

#include "dips/wire.h"

namespace dips {

// Told by a decode piece that writes a pixel file (Sink::kPixelFile) how far it is, from the thread that
// runs it. Must not throw.
using ProgressReport = std::function<void(const DecodeProgress&)>;

// Does one piece of work: takes its source (reading and decoding a file, or the rows it carries), applies
// a stage's finish if asked, runs its steps on the whole image or on its band, and delivers the result to
// its sink (rows, encoded bytes, an output written atomically, or a pixel file written in place). Never throws: every failure (unreadable
// or undecodable file, an OpenCV or ZBar error, a full disk) becomes result.error, naming what failed.
// A decode piece into a pixel file whose image decodes from the top row down (codec.h, a PNG) writes the
// rows as they come and reports each run of them written (a 32nd of the image) when `report` is set;
// without it the file is written whole at the end.
ResultItem execute_item(const WorkItem& item, const ProgressReport& report = {});

}  // namespace dips
