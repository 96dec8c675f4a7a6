#pragma once
// Report journals as older versions of dips wrote them, for the tests of what reads them (report_model,
// --resume, the report page).
#include <string>
#include <vector>

namespace dips::testing {

struct SampleTask {
  std::string input, ops, output;
  bool ok = true;
};

// A journal of format version 1 (dips 0.2.0, before worker events, piece ids, outcomes, rank 0's spans
// and thumbnails), exactly in that version's layout: its header, one line per task (a whole-file piece;
// the second task's piece was first held by rank 2, which was lost), the worker_lost event, and the summary
// unless `interrupted`.
std::string version1_journal(const std::vector<SampleTask>& tasks, bool interrupted = false);

// A journal of format version 1 as the first dips wrote it (dips 0.1.0, before pieces): its header, task
// lines without "pieces", and a summary without "io" and "rank0_peak_rss_mb".
std::string version1_journal_without_pieces(const std::vector<SampleTask>& tasks);

}  // namespace dips::testing
