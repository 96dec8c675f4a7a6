#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "dips/pipeline.h"
#include "dips/status.h"

namespace dips {

// One unit of a job: an input image, the pipeline to run on it, and where the result goes.
// Its names are strings, not std::filesystem::path: a path also holds its components (a list allocated for
// each), which made a task nearly twice as large (a 100,000-task manifest listed in 99 MB instead of 56, and
// 30-40% slower).
struct Task {
  std::string input;            // as the user named it (possibly relative to the working folder)
  Pipeline pipeline;
  std::string output;           // always inside the job's output directory, in normal form
  std::string origin;           // "FILE:LINE" for a manifest or file-list task, empty otherwise
  std::string refused;          // why the task fails without being run (its input's format cannot hold
                                // the pipeline's result); empty for a task to run
  bool output_exists = false;   // something had the output's name when the job was listed
  bool input_not_link = false;  // a directory listing saw the input as no symbolic link (no need to look again)
};

// What the command line says about where tasks come from.
struct JobSpec {
  std::vector<std::string> inputs;  // files or directories (--op mode)
  std::string ops;                  // the pipeline for every input (--op mode)
  std::string manifest;             // a manifest file (--manifest mode; "-": standard input); empty in --op mode
  std::string files_from;           // a list of inputs, one per line (--op mode; "-": standard input)
  std::filesystem::path output_dir;
  bool recursive = false;           // descend into sub-directories of input directories
  std::string format;               // output extension without dot ("png"); empty keeps the input's
  int64_t max_pixels = INT64_MAX;   // resize=N with N*N above this is refused
  std::filesystem::path report;     // the report file: refused when it is an input or an output of a task
};

// Files that directory scans did not take, counted by reason: an extension (".txt", ".gif"), "no
// extension", "sub-directory" (not descended), "directory symlink" (not followed) or "not a regular file"
// (a FIFO, socket, device, or a symbolic link that leads nowhere).
using SkippedFiles = std::map<std::string, size_t>;

// "3 .txt, 1 sub-directory (--recursive descends)": the counts for people, most frequent first.
std::string skipped_files_text(const SkippedFiles& skipped);

// Builds the task list. Directory inputs list their regular files with an image extension (those of
// is_image_extension, and .pam and .jfif) in name order (sub-directories with `recursive`, never following
// directory symlinks, never entering output_dir); what they leave out is counted in *skipped when given.
// A manifest or file list named "-" is read from standard input (only rank 0 may call this then). Every
// problem that makes the job unrunnable (bad pipeline, malformed manifest or list line, an INPUT argument
// that does not exist, output outside output_dir, output onto an input or onto the report, two tasks with
// one output, a resize beyond max_pixels, an output format chosen by --format or a manifest that cannot
// hold the pipeline's result) is an error listing each problem with its file and line; nothing is run
// then. An output named after its input whose format cannot hold the result (a gray result as .ppm, any
// as .jp2) makes only that task `refused`; a .jfif input's output is named .jpg. Unreadable images are not
// checked here: they fail as tasks.
Status build_job(const JobSpec& spec, std::vector<Task>* tasks, SkippedFiles* skipped = nullptr);

// Parses manifest text (the contents of manifest_path) into tasks; exposed for tests and fuzzing.
// Lines: input TAB pipeline [TAB output]; blank lines and lines starting with '#' are skipped; CRLF ends
// are accepted; relative inputs are relative to the manifest's folder, relative outputs to output_dir.
Status parse_manifest(const std::string& text, const std::filesystem::path& manifest_path,
                      const std::filesystem::path& output_dir, const std::string& format, std::vector<Task>* tasks);

// Parses a list of inputs (--files-from): one path per line (CRLF accepted, blank lines skipped), or, when
// the text contains a NUL byte, one per NUL-terminated entry (find -print0). Relative paths are relative
// to the working folder; an output keeps the input's relative path (its file name for an absolute path or
// one leading up with ".."). `where` names the list in errors ("<stdin>", or its file name) with its line.
Status parse_file_list(const std::string& text, const std::string& where, const Pipeline& pipeline,
                       const std::filesystem::path& output_dir, const std::string& format, std::vector<Task>* tasks);

// Resolves a requested output path against output_dir; refuses paths that would land outside it
// (absolute elsewhere, "..", or through a symlink that leaves it). *exists, when given, says whether
// anything has the resolved name (it is looked at anyway).
Status resolve_output(const std::filesystem::path& output_dir, const std::filesystem::path& requested,
                      std::string* resolved, bool* exists = nullptr);

}  // namespace dips
