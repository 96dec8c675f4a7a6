#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "dips/report_model.h"
#include "dips/status.h"

namespace dips {

// The report page: one self-contained HTML file (its CSS, script and pictures inline; nothing loaded from
// the network) that renders `data` (ReportModel::page_data) in the browser: summary, workers, timeline,
// throughput and the gallery of tasks. Every text of the data reaches the page as text, never as markup.
std::string render_report_page(const nlohmann::json& data);

// What a written page holds at most: 5,000 tasks (failures, then those with thumbnails, then the latest)
// and the latest 50,000 pieces, so that the page of a 100,000-task job does not take rank 0 hundreds of
// MB (every task of it: 390 MB of memory, a 29 MB page). The journal keeps everything; `dips-report --all`
// writes it all.
inline constexpr PageLimits kWrittenPageLimits{5000, 50000};

// Reads a report journal (any version; a run cut short included) and writes its page to `page`
// atomically, within `limits`. An unreadable journal, or a file that is not a dips report, is an error.
Status write_report_page(const std::filesystem::path& journal, const std::filesystem::path& page,
                         const PageLimits& limits = kWrittenPageLimits);

// Where a journal's page goes by default: beside it, named like it with the extension .html
// (OUTDIR/report.jsonl -> OUTDIR/report.html); never the journal itself.
std::filesystem::path report_page_path(const std::filesystem::path& journal);

}  // namespace dips
