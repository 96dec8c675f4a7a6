#include "dips/job.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "dips/codec.h"
#include "dips/image_io.h"

namespace dips {
namespace fs = std::filesystem;
namespace {

constexpr size_t kMaxManifestLine = 64 * 1024;
constexpr uintmax_t kMaxManifestBytes = 256ull << 20;
constexpr size_t kMaxReportedProblems = 50;

bool valid_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t extra = 0;
    if (c >= 0x80) {
      if ((c >> 5) == 0x6) extra = 1;
      else if ((c >> 4) == 0xE) extra = 2;
      else if ((c >> 3) == 0x1E) extra = 3;
      else return false;
    }
    if (s.size() - i <= extra) return false;
    for (size_t k = 1; k <= extra; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += extra + 1;
  }
  return true;
}

bool names_a_file(const fs::path& path) {
  const fs::path name = path.filename();
  return !name.empty() && name != "." && name != "..";
}

fs::path with_format(fs::path path, const std::string& format) {
  if (!format.empty() && names_a_file(path)) path.replace_extension("." + format);
  return path;
}

bool inside(const fs::path& dir, const fs::path& path) {
  auto d = dir.begin(), p = path.begin();
  for (; d != dir.end(); ++d, ++p) {
    if (d->empty()) continue;  // trailing separator
    if (p == path.end() || *d != *p) return false;
  }
  return true;
}

std::vector<fs::path> list_directory(const fs::path& dir, bool recursive, const fs::path& skip) {
  std::vector<fs::path> files;
  std::error_code ec;
  const auto consider = [&](const fs::directory_entry& entry) {
    if (has_image_extension(entry.path())) files.push_back(entry.path());
  };
  if (recursive) {
    fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      std::error_code type_ec;
      if (fs::weakly_canonical(it->path(), type_ec) == skip) {
        it.disable_recursion_pending();
        continue;
      }
      // Real sub-directories are descended; a directory symlink is never followed (no loops), and like
      // any other non-file with an image name it becomes a task that fails with a clear error.
      if (it->is_directory(type_ec) && !it->is_symlink(type_ec)) continue;
      consider(*it);
    }
  } else {
    for (const auto& entry : fs::directory_iterator(dir, ec)) consider(entry);
  }
  std::sort(files.begin(), files.end());
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

fs::path canonical_or_lexical(const fs::path& path) {
  std::error_code ec;
  fs::path result = fs::weakly_canonical(fs::absolute(path), ec);
  return ec ? fs::absolute(path).lexically_normal() : result;
}

void check_outputs(const std::vector<Task>& tasks, Problems* problems) {
  std::map<fs::path, const Task*> outputs;
  std::set<fs::path> inputs;
  for (const Task& task : tasks) inputs.insert(canonical_or_lexical(task.input));
  for (const Task& task : tasks) {
    const std::string where = task.origin.empty() ? task.input.string() : task.origin;
    const fs::path output = canonical_or_lexical(task.output);
    if (inputs.count(output)) {
      problems->add(fmt::format("{}: output '{}' is an input of this job; inputs are never overwritten", where, task.output.string()));
    }
    auto [it, fresh] = outputs.emplace(output, &task);
    if (!fresh) {
      const Task& first = *it->second;
      problems->add(fmt::format("{}: output '{}' is also the output of {}; give the tasks different outputs (or --format)",
                                where, task.output.string(), first.origin.empty() ? first.input.string() : first.origin));
    }
  }
}

// resize=N makes an N x N image whatever the input: held to the same limit as decoded inputs.
void check_resize_limits(const std::vector<Task>& tasks, int64_t max_pixels, Problems* problems) {
  for (const Task& task : tasks) {
    for (const Step& step : task.pipeline) {
      if (step.op->name == "resize" && static_cast<int64_t>(step.param) * step.param > max_pixels) {
        problems->add(fmt::format("{}: resize={} makes {} pixels, over the limit of {} (--max-pixels)",
                                  task.origin.empty() ? task.input.string() : task.origin, step.param,
                                  static_cast<int64_t>(step.param) * step.param, max_pixels));
        return;
      }
    }
  }
}

}  // namespace

Status resolve_output(const fs::path& output_dir, const fs::path& requested, fs::path* resolved) {
  const fs::path dir = canonical_or_lexical(output_dir);
  // An absolute request is resolved like the directory, so that a symlinked OUTDIR named either way matches.
  const fs::path joined = (requested.is_absolute() ? canonical_or_lexical(requested) : dir / requested).lexically_normal();
  if (!names_a_file(requested) || !names_a_file(joined) || joined == dir) {
    return Status::Error(fmt::format("output '{}' names a folder, not a file", requested.string()));
  }
  if (!inside(dir, joined)) {
    return Status::Error(fmt::format("output '{}' is outside the output directory '{}'", requested.string(), output_dir.string()));
  }
  // Existing symlinked folders inside output_dir could still lead out of it.
  if (!inside(dir, canonical_or_lexical(joined))) {
    return Status::Error(fmt::format("output '{}' leads outside the output directory '{}' through a symbolic link",
                                     requested.string(), output_dir.string()));
  }
  *resolved = joined;
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
    if (!valid_utf8(line)) {
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
    fs::path requested;
    if (columns.size() == 3 && !columns[2].empty()) {
      requested = columns[2];
    } else {
      const fs::path relative = fs::path(columns[0]).lexically_relative(".");
      requested = fs::path(columns[0]).is_absolute() || relative.empty() || *relative.begin() == ".."
                      ? fs::path(columns[0]).filename()
                      : relative;
    }
    status = resolve_output(output_dir, with_format(requested, format), &task.output);
    if (!status.ok()) {
      problems.add(fmt::format("{}: {}", where, status.message()));
      continue;
    }
    tasks->push_back(std::move(task));
  }
  if (!problems.empty()) return problems.status();
  return Status();
}

Status build_job(const JobSpec& spec, std::vector<Task>* tasks) {
  tasks->clear();
  Problems problems;
  if (!spec.format.empty() && !can_encode_extension("." + spec.format)) {
    const Status codecs = load_opencv_codecs();  // a missing libdips_imgcodecs.so is the real reason, if so
    return Status::Error(fmt::format("--format {}: {}", spec.format,
                                     codecs.ok() ? "OpenCV cannot write this format (try png, jpg, tif, bmp, webp)"
                                                 : codecs.message()));
  }
  if (!spec.manifest.empty()) {
    std::error_code ec;
    const auto status_of = fs::status(spec.manifest, ec);
    if (fs::exists(status_of) && !fs::is_regular_file(status_of)) {
      return Status::Error(fmt::format("manifest '{}' is not a regular file", spec.manifest));
    }
    if (fs::is_regular_file(status_of) && fs::file_size(spec.manifest, ec) > kMaxManifestBytes) {
      return Status::Error(fmt::format("manifest '{}' is larger than {} bytes; split the job", spec.manifest, kMaxManifestBytes));
    }
    std::ifstream in(spec.manifest, std::ios::binary);
    if (!in) return Status::Error(fmt::format("cannot read manifest '{}': {}", spec.manifest, std::strerror(errno)));
    std::stringstream text;
    text << in.rdbuf();
    Status status = parse_manifest(text.str(), spec.manifest, spec.output_dir, spec.format, tasks);
    if (!status.ok()) return status;
  } else {
    Pipeline pipeline;
    Status status = parse_pipeline(spec.ops, &pipeline);
    if (!status.ok()) return Status::Error(fmt::format("--op {}: {}", spec.ops, status.message()));
    if (spec.inputs.empty()) return Status::Error("no input: name image files or directories after the options");
    const fs::path skip = canonical_or_lexical(spec.output_dir);
    for (const std::string& input : spec.inputs) {
      std::error_code ec;
      std::vector<std::pair<fs::path, fs::path>> found;  // input file, output relative to output_dir
      if (fs::is_directory(input, ec)) {
        for (const fs::path& file : list_directory(input, spec.recursive, skip)) {
          found.emplace_back(file, file.lexically_relative(input));
        }
        if (found.empty()) problems.add(fmt::format("{}: no image files in this directory{}", input, spec.recursive ? "" : " (--recursive descends into sub-directories)"));
      } else {
        found.emplace_back(input, fs::path(input).filename());
      }
      for (auto& [file, relative] : found) {
        Task task{file, pipeline, {}, {}};
        Status out = resolve_output(spec.output_dir, with_format(relative, spec.format), &task.output);
        if (!out.ok()) {
          problems.add(fmt::format("{}: {}", file.string(), out.message()));
          continue;
        }
        tasks->push_back(std::move(task));
      }
    }
  }
  check_resize_limits(*tasks, spec.max_pixels, &problems);
  check_outputs(*tasks, &problems);
  if (!problems.empty()) return problems.status();
  return Status();
}

}  // namespace dips
