#include "dips/html_report.h"

#include <chrono>
#include <ctime>
#include <string>
#include <string_view>

#include "dips/image_io.h"
#include "dips/report_model.h"

namespace dips {
namespace fs = std::filesystem;

// The page's template (src/report_page.html), compiled in by CMake.
extern const char* const kReportPageTemplate;

namespace {

constexpr const char* kDataMarker = "<!--DIPS_DATA-->";

// Appends JSON that is safe inside a <script> element: '<', '>' and '&' only occur inside JSON strings,
// where their \u escapes mean the same, so no text of the report can close the element or open a comment.
void append_script_safe_json(const nlohmann::json& data, std::string* out) {
  const std::string json = data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  out->reserve(out->size() + json.size() + json.size() / 16);
  for (char c : json) {
    switch (c) {
      case '<': *out += "\\u003c"; break;
      case '>': *out += "\\u003e"; break;
      case '&': *out += "\\u0026"; break;
      default: *out += c;
    }
  }
}

std::string utc_now() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

}  // namespace

std::string render_report_page(const nlohmann::json& data) {
  const std::string_view page = kReportPageTemplate;
  const size_t at = page.find(kDataMarker);
  std::string html(page.substr(0, at));
  html += "<script id=\"dips-data\" type=\"application/json\">";
  append_script_safe_json(data, &html);
  html += "</script>";
  html += page.substr(at + std::char_traits<char>::length(kDataMarker));
  return html;
}

Status write_report_page(const fs::path& journal, const fs::path& page, const PageLimits& limits) {
  nlohmann::json data;
  {  // the model (every record of the journal) goes before the page is rendered: rank 0's peak memory
    ReportModel model;
    Status status = model.read_more(journal);
    if (!status.ok()) return status;
    if (!model.is_report()) return Status::Error("'" + journal.string() + "' is not a dips report");
    data = model.page_data(limits);
  }
  data["source"] = journal.filename().string();
  data["generated_at"] = utc_now();
  const std::string html = render_report_page(data);
  data = nlohmann::json();  // freed before the write: a huge job's page data is as large as the page
  return write_file_atomic(page, std::vector<ByteRange>{ByteRange{reinterpret_cast<const uint8_t*>(html.data()), html.size()}});
}

fs::path report_page_path(const fs::path& journal) {
  fs::path page = journal;
  page.replace_extension(".html");
  if (page == journal) page += ".html";
  return page;
}

}  // namespace dips
