#pragma once
// A decoded image kept in a file for other workers' pieces, on a file system they all see (--io shared or
// auto): the worker that decodes an image cut into bands writes it once, the band pieces read their rows
// from it, and rank 0 moves the file's name instead of the image's bytes (rank 0's CPU is taken from the
// workers on the same cores, and a 15 MP photo is 44 MB of pixels each way).
//
// The file is a 32-byte header (magic, width, height, OpenCV type, all little-endian) and the rows as they
// are in memory, 8-bit, 1 or 3 channels. It is written in place, from the top row down, while the image
// is being decoded (a PNG's rows come out one after another for a second or more): rank 0 gives a band to
// a reader only once the writer has reported every row the band reads as written, so that bands start
// during the decoding, and a reader never needs the file to be whole. For the same reason it is never
// truncated or replaced: when a writer is lost and another decodes the image again, the second writes the
// same bytes over the first's, and a band reading rows written before sees no change.
#include <filesystem>
#include <opencv2/core.hpp>

#include "dips/status.h"

namespace dips {

// Writes one image into a pixel file, a run of rows at a time.
class PixelFileWriter {
 public:
  PixelFileWriter() = default;
  ~PixelFileWriter();
  PixelFileWriter(const PixelFileWriter&) = delete;
  PixelFileWriter& operator=(const PixelFileWriter&) = delete;

  // Opens path (made if missing, kept as it is otherwise) and writes the header of an image of this size
  // and type (8-bit, 1 or 3 channels).
  Status open(const std::filesystem::path& path, int width, int height, int type);
  bool is_open() const { return fd_ >= 0; }
  // Writes rows [rows_written(), row1) of image, the whole image of the size and type given to open.
  Status write_rows(const cv::Mat& image, int row1);
  int rows_written() const { return rows_written_; }
  // Whether publish() flushes here (a file system that is not this machine's own).
  bool flushes_to_publish() const { return flush_to_publish_; }
  // Makes the rows written so far readable on every host, and lasting should the writer's host be lost
  // the next moment: on a file system of this machine's own (ext4, xfs, btrfs, tmpfs, ...) every write is
  // seen at once and nothing more is done; on any other (NFS, which shows a reader only what the writer
  // flushed, and Lustre, GPFS, BeeGFS, CephFS, whose servers hold only what the writer's host sent them)
  // the rows are flushed first.
  Status publish();
  // Closes the file; *bytes: its size, header included.
  Status close(uint64_t* bytes);

 private:
  Status error(const std::string& what) const;
  uint64_t file_size() const;  // header and every row
  std::filesystem::path path_;
  int fd_ = -1;
  bool flush_to_publish_ = false;
  int width_ = 0, height_ = 0, type_ = 0;
  int rows_written_ = 0;
};

// Writes `image` (8-bit, 1 or 3 channels) to path whole, in place. *bytes: the file's size.
Status write_pixel_file(const std::filesystem::path& path, const cv::Mat& image, uint64_t* bytes);

// Reads rows [row0, row1) of the image in a pixel file, in memory of their own. A file that is not a
// pixel file, or is shorter than its header says, or rows outside the image, are errors saying which.
// row1 < 0 reads to the last row.
Status read_pixel_rows(const std::filesystem::path& path, int row0, int row1, cv::Mat* rows);

}  // namespace dips
