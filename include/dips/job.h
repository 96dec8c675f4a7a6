#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "dips/pipeline.h"
#include "dips/status.h"

namespace dips {

// One unit of a job: an input image, the pipeline to run on it, and where the result goes.
struct Task {
  std::filesystem::path input;   // as the user named it (possibly relative to the working folder)
  Pipeline pipeline;
  std::filesystem::path output;  // always inside the job's output directory
  std::string origin;            // "FILE:LINE" for a manifest task, empty otherwise
};

// What the command line says about where tasks come from.
struct JobSpec {
  std::vector<std::string> inputs;  // files or directories (--op mode)
  std::string ops;                  // the pipeline for every input (--op mode)
  std::string manifest;             // a manifest file (--manifest mode); empty in --op mode
  std::filesystem::path output_dir;
  bool recursive = false;           // descend into sub-directories of input directories
  std::string format;               // output extension without dot ("png"); empty keeps the input's
  int64_t max_pixels = INT64_MAX;   // resize=N with N*N above this is refused
};

// Builds the task list. Directory inputs list their image files in name order (sub-directories with
// `recursive`, never following directory symlinks, never entering output_dir). Every problem that makes
// the job unrunnable (bad pipeline, malformed manifest line, output outside output_dir, output onto an
// input, two tasks with one output, a resize beyond max_pixels) is an error listing each problem with its
// file and line; nothing is run then. Unreadable images are not checked here: they fail as tasks.
Status build_job(const JobSpec& spec, std::vector<Task>* tasks);

// Parses manifest text (the contents of manifest_path) into tasks; exposed for tests and fuzzing.
// Lines: input TAB pipeline [TAB output]; blank lines and lines starting with '#' are skipped; CRLF ends
// are accepted; relative inputs are relative to the manifest's folder, relative outputs to output_dir.
Status parse_manifest(const std::string& text, const std::filesystem::path& manifest_path,
                      const std::filesystem::path& output_dir, const std::string& format, std::vector<Task>* tasks);

// Resolves a requested output path against output_dir; refuses paths that would land outside it
// (absolute elsewhere, "..", or through a symlink that leaves it).
Status resolve_output(const std::filesystem::path& output_dir, const std::filesystem::path& requested,
                      std::filesystem::path* resolved);

}  // namespace dips
