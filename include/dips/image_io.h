#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "dips/codec.h"  // decode_image, encode_image and sniff_image_size lived here; callers still include this
#include "dips/status.h"

namespace dips {

// Reads a whole regular file. Directories, missing files, unreadable files and files larger than
// max_bytes are errors that say which.
Status read_file(const std::filesystem::path& path, uint64_t max_bytes, std::vector<uint8_t>* bytes);

// Writes bytes to path atomically: a temporary file in the same folder (".dips-tmp-HOST-PID-N", unique
// across the hosts of a shared file system; see temp_files.h), then renamed over path, so that a reader or a crash never
// sees a partial file. With `sync` the data and the rename are also made durable (fsync of the file and
// its folder) before returning. On any failure (disk full, permission) the temporary file is removed and
// path is left as it was.
Status write_file_atomic(const std::filesystem::path& path, const std::vector<uint8_t>& bytes, bool sync = false);

// The same with the file's bytes given as parts in order (e.g. an AssembledFile's), written with writev
// without first concatenating them.
Status write_file_atomic(const std::filesystem::path& path, const std::vector<ByteRange>& parts, bool sync = false);

// True for file names whose extension OpenCV can decode (".jpg", ".PNG", ".tiff", ...).
bool has_image_extension(const std::filesystem::path& path);

}  // namespace dips
