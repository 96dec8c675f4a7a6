#pragma once
#include "dips/wire.h"

namespace dips {

// Does one piece of work: takes its source (reading and decoding a file, or the rows it carries), applies
// a stage's finish if asked, runs its steps on the whole image or on its band, and delivers the result to
// its sink (rows, encoded bytes, or a file written atomically). Never throws: every failure (unreadable
// or undecodable file, an OpenCV or ZBar error, a full disk) becomes result.error, naming what failed.
ResultItem execute_item(const WorkItem& item);

}  // namespace dips
