#include "dips/job.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "dips/codec.h"
#include "dips/image_io.h"
#include "dips/json_line.h"
#include "dips/operation.h"

namespace dips {
namespace fs = std::filesystem;
namespace {

constexpr size_t kMaxManifestLine = 64 * 1024;
constexpr uintmax_t kMaxManifestBytes = 256ull << 20;
constexpr size_t kMaxReportedProblems = 50;
constexpr const char* kStdinName = "<stdin>";

bool names_a_file(const fs::path& path) {
  const fs::path name = path.filename();
  return !name.empty() && name != "." && name != "..";
}

fs::path with_format(fs::path path, const std::string& format) {
  if (!format.empty() && names_a_file(path)) path.replace_extension("." + format);
  return path;
}

// An output named after its input: with --format's extension, else the input's, except .jfif, which is
// JPEG under a name OpenCV's encoder does not know: such outputs are named .jpg.
fs::path derived_output(fs::path relative, const std::string& format) {
  if (format.empty()) {
    // On the raw name: a folder of 20,000 files spent a tenth of its listing splitting names here.
    const std::string& name = relative.native();
    return lowercase_extension(name) == ".jfif" ? relative.replace_extension(".jpg") : relative;
  }
  return with_format(std::move(relative), format);
}

// The output path a listed input gets by default: its own relative path, or its file name when it is
// absolute or leads up out of the folder it is relative to.
fs::path default_output(const std::string& input) {
  const fs::path relative = fs::path(input).lexically_relative(".");
  return fs::path(input).is_absolute() || relative.empty() || *relative.begin() == ".." ? fs::path(input).filename() : relative;
}

// Extensions a directory scan takes: what is_image_extension knows, and PAM and JFIF, which OpenCV 4.6
// decodes (PAM by its own decoder, JFIF is JPEG). PFM is left out (OpenCV converts its floating-point
// samples to 8 bits without scaling: values in 0..1 become 0 or 1), and so is GIF (not decoded).
bool scanned_extension(const fs::path& path) {
  const std::string ext = lowercase_extension(path.native());
  return is_image_extension(ext) || ext == ".pam" || ext == ".jfif";
}

// Why a directory scan leaves an entry out (a SkippedFiles reason), or "" when it takes it. Anything else
// with an image's name is taken: a FIFO, a broken link or a folder named .jpg fails as a task, saying why.
// The entry's own type tests follow symbolic links and cost no system call for other entries (the type
// comes with the folder's listing): a 20,000-file folder was one stat per file.
std::string skip_reason(const fs::directory_entry& entry) {
  std::error_code ec;
  const bool image_name = scanned_extension(entry.path());
  if (!image_name && entry.is_directory(ec)) return entry.is_symlink(ec) ? "directory symlink" : "sub-directory";
  if (image_name) return "";
  if (!entry.is_regular_file(ec)) return "not a regular file";
  const std::string ext = lowercase_extension(entry.path().native());
  return ext.empty() ? "no extension" : ext;
}

bool inside(const fs::path& dir, const fs::path& path) {
  auto d = dir.begin(), p = path.begin();
  for (; d != dir.end(); ++d, ++p) {
    if (d->empty()) continue;  // trailing separator
    if (p == path.end() || *d != *p) return false;
  }
  return true;
}

fs::path full_canonical_or_lexical(const fs::path& absolute) {
  std::error_code ec;
  fs::path result = fs::weakly_canonical(absolute, ec);
  return ec ? absolute.lexically_normal() : result;
}

// weakly_canonical of a path, else its lexical form. A job names thousands of files in a few folders, and
// resolving every component of every name cost ~30 system calls per file (a 20,000-file folder took
// seconds to list): each folder is resolved once, a name in it only when it is a symbolic link itself.
// While a job is built (on one thread, its folders unchanged meanwhile): resolved folders by name, and the
// working folder (fs::absolute asked the kernel for it at every relative name: a tenth of the listing of a
// 100,000-task manifest).
struct Folder {
  fs::path resolved;
  bool missing = false;  // no directory has its name: nothing is in it, no name in it needs a system call
};

struct ResolvedFolders {
  std::unordered_map<std::string, Folder> folders;
  fs::path working = working_folder();  // empty if it is gone: fs::absolute then says so, as before

  static fs::path working_folder() {
    std::error_code ec;
    return fs::current_path(ec);
  }
};
thread_local ResolvedFolders* resolved_folders = nullptr;

struct ResolvedFoldersScope {
  ResolvedFolders resolved;
  ResolvedFoldersScope() { resolved_folders = &resolved; }
  ~ResolvedFoldersScope() { resolved_folders = nullptr; }
};

// As fs::absolute(path).native(), without building a path (which splits its components into a list).
std::string absolute_name(const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  if (resolved_folders == nullptr || resolved_folders->working.empty() || path.empty()) return fs::absolute(path).native();
  return (resolved_folders->working / path).native();
}

// Whether a relative name is in normal form with a file name at its end (no "." or ".." component, no
// empty one): on the string, since lexically_normal() allocated a list per call.
bool plain_relative(std::string_view name) {
  if (name.empty() || name[0] == '/') return false;
  for (size_t start = 0; start <= name.size();) {
    size_t end = name.find('/', start);
    if (end == std::string_view::npos) end = name.size();
    const std::string_view part = name.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

// The same for an absolute name.
bool plain_absolute(std::string_view name) { return name.size() >= 2 && name[0] == '/' && plain_relative(name.substr(1)); }

// Whether a name in normal form is `dir` or inside it, on the strings.
bool inside_name(const std::string& dir, const std::string& name) {
  if (name.compare(0, dir.size(), dir) != 0) return false;
  return name.size() == dir.size() || dir.back() == '/' || name[dir.size()] == '/';
}

// While a job is built: a folder, resolved once.
const Folder& folder_in_job(const std::string& folder) {
  auto [it, fresh] = resolved_folders->folders.try_emplace(folder);
  if (fresh) {
    it->second.resolved = full_canonical_or_lexical(folder);
    std::error_code ec;
    it->second.missing = !fs::is_directory(fs::status(it->second.resolved, ec));
  }
  return it->second;
}

std::string resolved_folder(const std::string& folder) {
  if (resolved_folders == nullptr) return full_canonical_or_lexical(folder).native();
  return folder_in_job(folder).resolved.native();
}

// What the caller already knows of a name's last component.
enum class LastName {
  kUnknown,
  kNotLink,  // seen as no symbolic link: a directory listing's type, or nothing had the name a moment ago
};

// *exists, when given, says whether anything has the path's name (a file, a link, even a broken one). A
// name known to be no link, whose existence is not asked, costs no system call.
// The same as a string: the names of a job's inputs and outputs are compared as strings.
std::string canonical_name(const std::string& path, bool* exists = nullptr, LastName last = LastName::kUnknown) {
  const std::string name = absolute_name(path);
  std::error_code ec;
  if (resolved_folders == nullptr || !plain_absolute(name)) {
    if (exists != nullptr) *exists = fs::exists(fs::symlink_status(name, ec));
    return full_canonical_or_lexical(name).native();
  }
  const size_t slash = name.rfind('/');
  const Folder& folder = folder_in_job(slash == 0 ? std::string("/") : name.substr(0, slash));
  const std::string& base = folder.resolved.native();
  std::string resolved = base.back() == '/' ? base : base + '/';
  resolved.append(name, slash + 1, std::string::npos);
  if (exists == nullptr && last == LastName::kNotLink) return resolved;
  // The outputs of a job into a new folder: one system call for the folder instead of one per output.
  if (folder.missing) {
    if (exists != nullptr) *exists = false;
    return resolved;
  }
  const fs::file_status status = fs::symlink_status(resolved, ec);
  if (exists != nullptr) *exists = fs::exists(status);
  if (fs::is_symlink(status)) return full_canonical_or_lexical(name).native();
  return resolved;
}

fs::path canonical_or_lexical(const fs::path& path, bool* exists = nullptr, LastName last = LastName::kUnknown) {
  return canonical_name(path.native(), exists, last);
}

// Names sorted as std::filesystem::path orders them (component by component), on the strings from
// `from` on (where names of one folder start to differ): a separator sorts before any other character.
bool path_order(const std::string& x, const std::string& y, size_t from) {
  const size_t n = std::min(x.size(), y.size());
  for (size_t i = from; i < n; ++i) {
    if (x[i] == y[i]) continue;
    if (x[i] == '/' || y[i] == '/') return x[i] == '/';
    return static_cast<unsigned char>(x[i]) < static_cast<unsigned char>(y[i]);
  }
  return x.size() < y.size();
}

// A file a listing took: its name as the listing gave it (the folder's name as given, then the rest) as a
// string, since a path would also hold its components.
struct ListedFile {
  std::string name;
  bool link = false;  // a symbolic link (the listing's type)
};

// The name of a listed file relative to the folder listed: the text after the folder's name and the
// separator that follows it (none when the folder's name ends in one), as every name a listing gives is.
std::string listed_relative(const std::string& name, const std::string& folder) {
  return name.substr(folder.size() + (!folder.empty() && folder.back() != '/' ? 1 : 0));
}

std::vector<ListedFile> list_directory(const fs::path& dir, bool recursive, const fs::path& skip, SkippedFiles* skipped) {
  std::vector<ListedFile> files;
  std::error_code ec;
  const auto consider = [&](const fs::directory_entry& entry) {
    const std::string reason = skip_reason(entry);
    std::error_code type_ec;
    if (reason.empty()) files.push_back({entry.path().native(), entry.is_symlink(type_ec)});
    else ++(*skipped)[reason];
  };
  if (recursive) {
    fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      std::error_code type_ec;
      if (canonical_or_lexical(it->path()) == skip) {
        it.disable_recursion_pending();
        continue;
      }
      // Real sub-directories are descended; a directory symlink is never followed (no loops).
      if (it->is_directory(type_ec) && !it->is_symlink(type_ec)) continue;
      consider(*it);
    }
  } else {
    for (const auto& entry : fs::directory_iterator(dir, ec)) consider(entry);
  }
  const size_t shared = dir.native().size();  // every name found is dir / something
  std::sort(files.begin(), files.end(), [shared](const ListedFile& a, const ListedFile& b) { return path_order(a.name, b.name, shared); });
  return files;
}

// Problems found while building a job, each with its place.
class Problems {
 public:
  void add(std::string message) { list_.push_back(std::move(message)); }
  bool empty() const { return list_.empty(); }
  Status status() const {
    std::string text = fmt::format("{} problem{} in the job, nothing was run:", list_.size(), list_.size() == 1 ? "" : "s");
    for (size_t i = 0; i < list_.size() && i < kMaxReportedProblems; ++i) text += "\n  " + list_[i];
    if (list_.size() > kMaxReportedProblems) text += fmt::format("\n  ... and {} more", list_.size() - kMaxReportedProblems);
    return Status::Error(text);
  }

 private:
  std::vector<std::string> list_;
};

std::string task_name(const Task& task) { return task.origin.empty() ? task.input : task.origin; }

// Resolved names are compared as strings (they are normal forms): a set of 100,000 fs::path, each holding
// its components too, took ~80 MB of rank 0's peak memory.
// Notes which outputs exist already (Task::output_exists) on the way.
void check_outputs(std::vector<Task>& tasks, const fs::path& report, Problems* problems) {
  std::unordered_map<std::string, const Task*> outputs;
  std::unordered_set<std::string> inputs;
  inputs.reserve(tasks.size());
  outputs.reserve(tasks.size());
  for (const Task& task : tasks) {
    inputs.insert(canonical_name(task.input, nullptr, task.input_not_link ? LastName::kNotLink : LastName::kUnknown));
  }
  const std::string report_path = report.empty() ? std::string() : canonical_name(report.native());
  if (inputs.count(report_path)) {
    problems->add(fmt::format("--report '{}' is an input of this job; inputs are never overwritten", report.string()));
  }
  for (Task& task : tasks) {
    // resolve_output saw whether the output exists; only one that does is looked at again.
    std::string output = task.output_exists ? canonical_name(task.output, &task.output_exists)
                                            : canonical_name(task.output, nullptr, LastName::kNotLink);
    if (inputs.count(output)) {
      problems->add(fmt::format("{}: output '{}' is an input of this job; inputs are never overwritten", task_name(task), task.output));
    }
    if (output == report_path) {
      problems->add(fmt::format("{}: output '{}' is the report (--report); give the report another name", task_name(task), task.output));
    }
    auto [it, fresh] = outputs.emplace(std::move(output), &task);
    if (!fresh) {
      const Task& first = *it->second;
      problems->add(fmt::format("{}: output '{}' is also the output of {}; give the tasks different outputs (or --format)",
                                task_name(task), task.output, task_name(first)));
    }
  }
}

// Whether outputs named like `output` can hold the pipeline's result: "" or why not. OpenCV's encoders
// decide (a tiny image of the right channels is encoded), memoised per extension and channels.
class FormatCheck {
 public:
  std::string problem(const Task& task) {
    std::string ext = lowercase_extension(task.output);
    if (ext.empty()) ext = ".png";  // what the workers write then (task_run.cpp)
    const int channels = output_channels(task.pipeline, 3);  // inputs are decoded to BGR
    const auto key = std::make_pair(ext, channels);
    auto it = verdicts_.find(key);
    if (it == verdicts_.end()) it = verdicts_.emplace(key, verdict(ext, channels)).first;
    return it->second;
  }

 private:
  static bool encodes(const std::string& ext, int channels) {
    std::vector<uint8_t> bytes;
    // 64 x 64: JPEG 2000's encoder refuses images under 32 x 32 (its default number of resolutions).
    return encode_image(cv::Mat(64, 64, CV_8UC(channels), cv::Scalar::all(128)), ext, &bytes).ok();
  }
  static std::string verdict(const std::string& ext, int channels) {
    if (encodes(ext, channels)) return "";
    if (!can_encode_extension(ext) || !encodes(ext, 4 - channels)) return fmt::format("OpenCV cannot write {} files here", ext);
    return fmt::format("a {} cannot hold this pipeline's {} result", ext, channels == 1 ? "gray (1-channel)" : "colour (3-channel)");
  }
  std::map<std::pair<std::string, int>, std::string> verdicts_;
};

// Outputs whose format cannot hold the result: refused with the job when their names were chosen (by
// --format or a manifest), else only that task is refused (its name came from its input's).
void check_formats(std::vector<Task>* tasks, bool names_chosen, const std::string& format, Problems* problems) {
  FormatCheck check;
  std::set<std::string> reported;
  for (Task& task : *tasks) {
    const std::string problem = check.problem(task);
    if (problem.empty()) continue;
    const std::string advice = "; choose another --format (png holds every result)";
    if (!format.empty()) {
      if (reported.insert(problem).second) problems->add(fmt::format("--format {}: {}{}", format, problem, advice));
    } else if (names_chosen) {
      problems->add(fmt::format("{}: output '{}': {}", task_name(task), task.output, problem));
    } else {
      task.refused = fmt::format("output '{}': {}{}", task.output, problem, advice);
    }
  }
}

// resize=N makes an N x N image whatever the input: held to the same limit as decoded inputs.
void check_resize_limits(const std::vector<Task>& tasks, int64_t max_pixels, Problems* problems) {
  for (const Task& task : tasks) {
    for (const Step& step : task.pipeline) {
      if (step.op->name == "resize" && static_cast<int64_t>(step.param) * step.param > max_pixels) {
        problems->add(fmt::format("{}: resize={} makes {} pixels, over the limit of {} (--max-pixels)",
                                  task_name(task), step.param,
                                  static_cast<int64_t>(step.param) * step.param, max_pixels));
        return;
      }
    }
  }
}

Status leads_out(const fs::path& requested, const fs::path& output_dir) {
  return Status::Error(fmt::format("output '{}' leads outside the output directory '{}' through a symbolic link", requested.string(),
                                   output_dir.string()));
}

}  // namespace

Status resolve_output(const fs::path& output_dir, const fs::path& requested, std::string* resolved, bool* exists) {
  const std::string dir_name = resolved_folder(absolute_name(output_dir.native()));
  // A plain relative name (every listed file's, most manifests') is joined and checked on the strings:
  // building, normalising and comparing paths for it was a third of the listing of 20,000 files.
  if (plain_relative(requested.native())) {
    std::string joined = dir_name.back() == '/' ? dir_name : dir_name + '/';
    joined += requested.native();
    // Existing symlinked folders inside output_dir could still lead out of it.
    if (!inside_name(dir_name, canonical_name(joined, exists))) {
      return leads_out(requested, output_dir);
    }
    *resolved = std::move(joined);
    return Status();
  }
  const fs::path dir = dir_name;
  // An absolute request is resolved like the directory, so that a symlinked OUTDIR named either way matches.
  const fs::path joined = (requested.is_absolute() ? canonical_or_lexical(requested) : dir / requested).lexically_normal();
  if (!names_a_file(requested) || !names_a_file(joined) || joined == dir) {
    return Status::Error(fmt::format("output '{}' names a folder, not a file", requested.string()));
  }
  if (!inside(dir, joined)) {
    return Status::Error(fmt::format("output '{}' is outside the output directory '{}'", requested.string(), output_dir.string()));
  }
  // Existing symlinked folders inside output_dir could still lead out of it.
  if (!inside(dir, canonical_or_lexical(joined, exists))) {
    return leads_out(requested, output_dir);
  }
  *resolved = joined.native();
  return Status();
}

Status parse_manifest(const std::string& text, const fs::path& manifest_path, const fs::path& output_dir,
                      const std::string& format, std::vector<Task>* tasks) {
  Problems problems;
  const fs::path base = manifest_path.parent_path();
  size_t line_number = 0, start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    ++line_number;
    const std::string where = fmt::format("{}:{}", manifest_path.string(), line_number);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.size() > kMaxManifestLine) {
      problems.add(fmt::format("{}: line is longer than {} bytes", where, kMaxManifestLine));
      continue;
    }
    if (line.find('\0') != std::string::npos) {
      problems.add(fmt::format("{}: line contains a NUL byte", where));
      continue;
    }
    if (!is_utf8(line)) {
      problems.add(fmt::format("{}: line is not valid UTF-8", where));
      continue;
    }
    const size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    std::vector<std::string> columns;
    std::stringstream stream(line);
    for (std::string column; std::getline(stream, column, '\t');) columns.push_back(column);
    if (columns.size() >= 2 && columns.size() <= 3 && (columns[0].empty() || columns[1].empty())) {
      problems.add(fmt::format("{}: the {} column is empty", where, columns[0].empty() ? "input" : "pipeline"));
      continue;
    }
    if (columns.size() < 2 || columns.size() > 3) {
      problems.add(fmt::format("{}: expected 'input<TAB>pipeline[<TAB>output]', got {} tab-separated column{}", where,
                               columns.size(), columns.size() == 1 ? "" : "s"));
      continue;
    }
    Task task;
    task.origin = where;
    task.input = fs::path(columns[0]).is_absolute() ? fs::path(columns[0]) : base / columns[0];
    Status status = parse_pipeline(columns[1], &task.pipeline);
    if (!status.ok()) {
      problems.add(fmt::format("{}: {}", where, status.message()));
      continue;
    }
    const bool named = columns.size() == 3 && !columns[2].empty();
    const fs::path requested = named ? with_format(columns[2], format) : derived_output(default_output(columns[0]), format);
    status = resolve_output(output_dir, requested, &task.output, &task.output_exists);
    if (!status.ok()) {
      problems.add(fmt::format("{}: {}", where, status.message()));
      continue;
    }
    tasks->push_back(std::move(task));
  }
  if (!problems.empty()) return problems.status();
  return Status();
}

Status parse_file_list(const std::string& text, const std::string& where, const Pipeline& pipeline, const fs::path& output_dir,
                       const std::string& format, std::vector<Task>* tasks) {
  Problems problems;
  const char separator = text.find('\0') != std::string::npos ? '\0' : '\n';
  size_t line_number = 0, start = 0;
  while (start < text.size()) {
    size_t end = text.find(separator, start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    ++line_number;
    if (separator == '\n' && !line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    Task task{line, pipeline, {}, fmt::format("{}:{}", where, line_number), {}};
    Status status = resolve_output(output_dir, derived_output(default_output(line), format), &task.output, &task.output_exists);
    if (!status.ok()) {
      problems.add(fmt::format("{}: {}", task.origin, status.message()));
      continue;
    }
    tasks->push_back(std::move(task));
  }
  if (!problems.empty()) return problems.status();
  if (tasks->empty()) return Status::Error(fmt::format("{}: the list of inputs is empty", where));
  return Status();
}

namespace {

// The whole text of a manifest or file list (`what`), from standard input when name is "-".
Status read_list(const std::string& name, const char* what, std::string* text) {
  if (name == "-") {
    std::vector<char> buffer(1 << 16);
    size_t n = 0;
    while ((n = std::fread(buffer.data(), 1, buffer.size(), stdin)) > 0) {
      if (text->size() + n > kMaxManifestBytes) return Status::Error(fmt::format("the {} on standard input is larger than {} bytes; split the job", what, kMaxManifestBytes));
      text->append(buffer.data(), n);
    }
    if (std::ferror(stdin)) return Status::Error(fmt::format("cannot read the {} from standard input: {}", what, std::strerror(errno)));
    return Status();
  }
  std::error_code ec;
  const auto status_of = fs::status(name, ec);
  if (fs::exists(status_of) && !fs::is_regular_file(status_of)) return Status::Error(fmt::format("{} '{}' is not a regular file", what, name));
  if (fs::is_regular_file(status_of) && fs::file_size(name, ec) > kMaxManifestBytes) {
    return Status::Error(fmt::format("{} '{}' is larger than {} bytes; split the job", what, name, kMaxManifestBytes));
  }
  std::ifstream in(name, std::ios::binary);
  if (!in) return Status::Error(fmt::format("cannot read {} '{}': {}", what, name, std::strerror(errno)));
  std::stringstream stream;
  stream << in.rdbuf();
  *text = stream.str();
  return Status();
}

std::string list_name(const std::string& name) { return name == "-" ? kStdinName : name; }

}  // namespace

std::string skipped_files_text(const SkippedFiles& skipped) {
  static const std::map<std::string, std::string> kPlural = {{"sub-directory", "sub-directories"}, {"directory symlink", "directory symlinks"}};
  static const std::map<std::string, std::string> kWhy = {{"sub-directory", " (--recursive descends)"},
                                                          {".gif", " (GIF is not supported)"},
                                                          {".pfm", " (floating point: name them to convert)"}};
  std::vector<std::pair<std::string, size_t>> sorted(skipped.begin(), skipped.end());
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string text;
  for (const auto& [reason, count] : sorted) {
    const auto plural = kPlural.find(reason);
    const auto why = kWhy.find(reason);
    text += fmt::format("{}{} {}{}", text.empty() ? "" : ", ", count, count != 1 && plural != kPlural.end() ? plural->second : reason,
                        why != kWhy.end() ? why->second : "");
  }
  return text;
}

Status build_job(const JobSpec& spec, std::vector<Task>* tasks, SkippedFiles* skipped) {
  const ResolvedFoldersScope resolving;
  tasks->clear();
  SkippedFiles ignored;
  if (skipped == nullptr) skipped = &ignored;
  Problems problems;
  if (!spec.format.empty() && !can_encode_extension("." + spec.format)) {
    const Status codecs = load_opencv_codecs();  // a missing libdips_imgcodecs.so is the real reason, if so
    return Status::Error(fmt::format("--format {}: {}", spec.format,
                                     codecs.ok() ? "OpenCV cannot write this format (try png, jpg, tif, bmp, webp)"
                                                 : codecs.message()));
  }
  if (!spec.manifest.empty()) {
    std::string text;
    Status status = read_list(spec.manifest, "manifest", &text);
    if (!status.ok()) return status;
    status = parse_manifest(text, list_name(spec.manifest), spec.output_dir, spec.format, tasks);
    if (!status.ok()) return status;
    // An empty file is an empty job, but nothing on standard input is a broken pipeline (or a launcher
    // that gave dips /dev/null).
    if (tasks->empty() && spec.manifest == "-") return Status::Error(fmt::format("{}: the manifest is empty", kStdinName));
  } else {
    Pipeline pipeline;
    Status status = parse_pipeline(spec.ops, &pipeline);
    if (!status.ok()) return Status::Error(fmt::format("--op {}: {}", spec.ops, status.message()));
    if (spec.inputs.empty() && spec.files_from.empty()) {
      return Status::Error("no input: name image files or directories after the options, or a list with --files-from");
    }
    if (!spec.files_from.empty()) {
      std::string text;
      status = read_list(spec.files_from, "file list", &text);
      if (status.ok()) status = parse_file_list(text, list_name(spec.files_from), pipeline, spec.output_dir, spec.format, tasks);
      if (!status.ok()) return status;
    }
    const fs::path skip = canonical_or_lexical(spec.output_dir);
    for (const std::string& input : spec.inputs) {
      std::error_code ec;
      // A typo on the command line: nothing runs (a manifest's or a list's missing inputs fail as tasks).
      if (!fs::exists(fs::symlink_status(input, ec)) && ec) {
        problems.add(fmt::format("{}: {}", input, ec.message()));
        continue;
      }
      struct Found {
        ListedFile file;
        fs::path relative;  // the output's name relative to output_dir
      };
      std::vector<Found> found;
      if (fs::is_directory(input, ec)) {
        SkippedFiles here;
        std::vector<ListedFile> files = list_directory(input, spec.recursive, skip, &here);
        found.reserve(files.size());
        tasks->reserve(tasks->size() + files.size());
        for (ListedFile& file : files) {
          fs::path relative = listed_relative(file.name, input);
          found.push_back({std::move(file), std::move(relative)});
        }
        if (found.empty()) {
          problems.add(fmt::format("{}: no image files in this directory{}", input,
                                   here.empty() ? "" : " (it has " + skipped_files_text(here) + ")"));
        }
        for (const auto& [reason, count] : here) (*skipped)[reason] += count;
      } else {
        found.push_back({{input, true}, fs::path(input).filename()});  // a named file may be a link: looked at
      }
      for (auto& [file, relative] : found) {
        Task task{file.name, pipeline, {}, {}, {}};
        task.input_not_link = !file.link;
        Status out = resolve_output(spec.output_dir, derived_output(relative, spec.format), &task.output, &task.output_exists);
        if (!out.ok()) {
          problems.add(fmt::format("{}: {}", file.name, out.message()));
          continue;
        }
        tasks->push_back(std::move(task));
      }
    }
  }
  check_resize_limits(*tasks, spec.max_pixels, &problems);
  check_outputs(*tasks, spec.report, &problems);
  check_formats(tasks, !spec.manifest.empty(), spec.format, &problems);
  if (!problems.empty()) return problems.status();
  return Status();
}

}  // namespace dips
