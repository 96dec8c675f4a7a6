#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "dips/codec.h"  // decode_image, encode_image and sniff_image_size lived here; callers still include this
#include "dips/status.h"

namespace dips {

// A file's size and modification time, as --resume compares them (-1: unknown).
struct FileIdentity {
  int64_t size = -1, mtime_ns = -1;
};

// Size and modification time of a file (following symbolic links); -1, -1 when it cannot be read.
FileIdentity file_identity(const std::filesystem::path& path);

// Reads a whole regular file. Directories, missing files, unreadable files and files larger than
// max_bytes are errors that say which. *identity, when given, is the file's as it was opened, before its
// bytes were read: a change during or after the read shows as another identity on --resume.
Status read_file(const std::filesystem::path& path, uint64_t max_bytes, std::vector<uint8_t>* bytes,
                 FileIdentity* identity = nullptr);

// Writes bytes to path atomically, so that a reader or a crash never sees a partial file: with `replace`,
// a temporary file in the same folder (".dips-tmp-HOST-PID-N", unique across the hosts of a shared file
// system; see temp_files.h) renamed over path; without, an unnamed file in the folder linked as path once
// complete (the named way where the file system has no unnamed files). With `sync` the data and the name
// are also made durable (fsync of the file and its folder) before returning. On any failure (disk full,
// permission) nothing is left behind and path is as it was. With `replace` false, a path that exists (a
// file, a link, anything) is left as it is and the write fails, saying so: atomically (the link, or
// renameat2 RENAME_NOREPLACE), so that a file made after the job checked its outputs is not lost; unless
// it is a regular file holding exactly these bytes (a lost worker of the same job wrote it before rank 0
// heard of it), which counts as written.
Status write_file_atomic(const std::filesystem::path& path, const std::vector<uint8_t>& bytes, bool sync = false,
                         bool replace = true);

// The same with the file's bytes given as parts in order (e.g. an AssembledFile's), written with writev
// without first concatenating them.
Status write_file_atomic(const std::filesystem::path& path, const std::vector<ByteRange>& parts, bool sync = false,
                         bool replace = true);

// The error of an output that would replace what has its name, said alike whoever sees it first.
Status output_exists(const std::filesystem::path& path);

// The extension of a path's file name exactly as std::filesystem::path::extension() gives it (".png";
// empty for "a", ".hidden", "." and ".."), read from the text: rank 0 asks for two per task and its listing
// one or two per file, and splitting the path into components for them was 3% of its CPU on 20,000 thumbnails.
std::string_view path_extension(std::string_view path);

// path_extension in lower case (".JPG" gives ".jpg"): how file names are matched to formats.
std::string lowercase_extension(std::string_view path);

// True for the lower-case extensions (lowercase_extension) OpenCV can decode (".jpg", ".png", ".tiff", ...).
bool is_image_extension(std::string_view extension);

}  // namespace dips
