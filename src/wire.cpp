#include "dips/wire.h"

#include <fmt/format.h>

#include <cstring>
#include <limits>

namespace dips {
namespace {

constexpr uint32_t kWorkMagic = 0x44495057;    // "DIPW"
constexpr uint32_t kResultMagic = 0x44495052;  // "DIPR"
constexpr size_t kMaxSteps = 64;
constexpr size_t kMaxStrings = 1 << 16;

class Writer {
 public:
  template <typename T>
  void put(T value) {
    static_assert(std::is_trivially_copyable_v<T>);
    const auto* p = reinterpret_cast<const uint8_t*>(&value);
    out_.insert(out_.end(), p, p + sizeof(T));
  }
  void put_bytes(const void* data, size_t size) {
    put<uint64_t>(size);
    const auto* p = static_cast<const uint8_t*>(data);
    out_.insert(out_.end(), p, p + size);
  }
  void put_string(const std::string& s) { put_bytes(s.data(), s.size()); }
  void put_mat(const cv::Mat& m) {
    put<int32_t>(m.rows);
    put<int32_t>(m.cols);
    put<int32_t>(m.empty() ? 0 : m.type());
    if (m.empty()) return;
    const size_t row_bytes = m.cols * m.elemSize();
    put<uint64_t>(row_bytes * m.rows);
    for (int y = 0; y < m.rows; ++y) out_.insert(out_.end(), m.ptr<uint8_t>(y), m.ptr<uint8_t>(y) + row_bytes);
  }
  void put_steps(const Pipeline& steps) {
    put<uint32_t>(static_cast<uint32_t>(steps.size()));
    for (const Step& step : steps) {
      put<uint32_t>(static_cast<uint32_t>(step.op - operations().data()));
      put<int32_t>(step.param);
    }
  }
  std::vector<uint8_t> take() { return std::move(out_); }

 private:
  std::vector<uint8_t> out_;
};

class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  template <typename T>
  bool get(T* value) {
    if (size_ - pos_ < sizeof(T)) return fail("truncated message");
    std::memcpy(value, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool get_size(size_t limit, uint64_t* size) {
    if (!get(size)) return false;
    if (*size > limit || *size > size_ - pos_) return fail("field length beyond the message");
    return true;
  }
  bool get_bytes(std::vector<uint8_t>* bytes) {
    uint64_t size = 0;
    if (!get_size(size_ - pos_, &size)) return false;
    bytes->assign(data_ + pos_, data_ + pos_ + size);
    pos_ += size;
    return true;
  }
  bool get_string(std::string* s) {
    uint64_t size = 0;
    if (!get_size(size_ - pos_, &size)) return false;
    s->assign(reinterpret_cast<const char*>(data_ + pos_), size);
    pos_ += size;
    return true;
  }
  bool get_mat(cv::Mat* m) {
    int32_t rows = 0, cols = 0, type = 0;
    if (!get(&rows) || !get(&cols) || !get(&type)) return false;
    if (rows == 0 && cols == 0 && type == 0) {
      *m = cv::Mat();
      return true;
    }
    if (rows <= 0 || cols <= 0 || (type != CV_8UC1 && type != CV_8UC3)) return fail("bad image header");
    const uint64_t expected = static_cast<uint64_t>(rows) * cols * CV_ELEM_SIZE(type);
    uint64_t size = 0;
    if (!get_size(size_ - pos_, &size)) return false;
    if (size != expected) return fail("image byte count does not match its size");
    cv::Mat mat(rows, cols, type);
    std::memcpy(mat.data, data_ + pos_, size);
    pos_ += size;
    *m = mat;
    return true;
  }
  bool get_steps(Pipeline* steps) {
    uint32_t count = 0;
    if (!get(&count)) return false;
    if (count == 0 || count > kMaxSteps) return fail("bad step count");
    steps->clear();
    for (uint32_t i = 0; i < count; ++i) {
      uint32_t index = 0;
      int32_t param = 0;
      if (!get(&index) || !get(&param)) return false;
      if (index >= operations().size()) return fail("unknown operation index");
      const Operation& op = operations()[index];
      const bool valid = op.param.accepted ? (param == op.param.default_value || (param >= op.param.min && param <= op.param.max))
                                           : param == op.param.default_value;
      if (!valid) return fail(fmt::format("parameter {} out of range for {}", param, op.name));
      steps->push_back(Step{&op, param});
    }
    return true;
  }
  bool get_strings(std::vector<std::string>* strings) {
    uint32_t count = 0;
    if (!get(&count)) return false;
    if (count > kMaxStrings) return fail("too many strings");
    strings->resize(count);
    for (auto& s : *strings) {
      if (!get_string(&s)) return false;
    }
    return true;
  }
  bool at_end() {
    if (pos_ != size_) return fail("trailing bytes after message");
    return true;
  }
  Status status() const { return error_.empty() ? Status() : Status::Error(error_); }

 private:
  bool fail(std::string what) {
    if (error_.empty()) error_ = fmt::format("malformed message at byte {}: {}", pos_, what);
    return false;
  }
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  std::string error_;
};

}  // namespace

std::vector<uint8_t> encode_work(const WorkMessage& m) {
  Writer w;
  w.put(kWorkMagic);
  w.put(m.piece_id);
  w.put(static_cast<uint8_t>(m.kind));
  w.put_steps(m.steps);
  w.put<int32_t>(m.rows.row0);
  w.put<int32_t>(m.rows.row1);
  w.put<int32_t>(m.rows.in_row0);
  w.put<int32_t>(m.rows.in_row1);
  w.put_string(m.output_ext);
  w.put(m.max_pixels);
  w.put_mat(m.image);
  w.put_bytes(m.bytes.data(), m.bytes.size());
  return w.take();
}

Status decode_work(const uint8_t* data, size_t size, WorkMessage* m) {
  Reader r(data, size);
  uint32_t magic = 0;
  uint8_t kind = 0;
  if (r.get(&magic) && magic != kWorkMagic) return Status::Error("malformed message: not a work message");
  const bool ok = r.get(&m->piece_id) && r.get(&kind) && r.get_steps(&m->steps) && r.get(&m->rows.row0) &&
                  r.get(&m->rows.row1) && r.get(&m->rows.in_row0) && r.get(&m->rows.in_row1) &&
                  r.get_string(&m->output_ext) && r.get(&m->max_pixels) && r.get_mat(&m->image) &&
                  r.get_bytes(&m->bytes) && r.at_end();
  if (!ok) return r.status();
  if (kind < 1 || kind > 3) return Status::Error("malformed message: unknown work kind");
  m->kind = static_cast<WorkKind>(kind);
  if (m->kind == WorkKind::kBand) {
    const PieceRows& rows = m->rows;
    const bool sane = rows.in_row0 >= 0 && rows.in_row0 <= rows.row0 && rows.row0 < rows.row1 &&
                      rows.row1 <= rows.in_row1 && rows.in_row1 - rows.in_row0 == m->image.rows;
    if (!sane) return Status::Error("malformed message: band rows do not match its image");
    if (plan_stages(m->steps).size() != 1) return Status::Error("malformed message: band steps are not one stage");
  }
  return Status();
}

std::vector<uint8_t> encode_result(const ResultMessage& m) {
  Writer w;
  w.put(kResultMagic);
  w.put(m.piece_id);
  w.put_string(m.error);
  w.put<int32_t>(m.width);
  w.put<int32_t>(m.height);
  w.put<uint32_t>(static_cast<uint32_t>(m.decoded.size()));
  for (const auto& s : m.decoded) w.put_string(s);
  w.put<uint32_t>(static_cast<uint32_t>(m.histogram.size()));
  for (double bin : m.histogram) w.put(bin);
  w.put_mat(m.image);
  w.put_bytes(m.bytes.data(), m.bytes.size());
  w.put(m.compute_ms);
  return w.take();
}

Status decode_result(const uint8_t* data, size_t size, ResultMessage* m) {
  Reader r(data, size);
  uint32_t magic = 0, bins = 0;
  if (r.get(&magic) && magic != kResultMagic) return Status::Error("malformed message: not a result message");
  bool ok = r.get(&m->piece_id) && r.get_string(&m->error) && r.get(&m->width) && r.get(&m->height) &&
            r.get_strings(&m->decoded) && r.get(&bins);
  if (ok && bins != 0 && bins != 256) return Status::Error("malformed message: histogram is not 256 bins");
  m->histogram.assign(ok ? bins : 0, 0.0);
  for (double& bin : m->histogram) ok = ok && r.get(&bin);
  ok = ok && r.get_mat(&m->image) && r.get_bytes(&m->bytes) && r.get(&m->compute_ms) && r.at_end();
  return ok ? Status() : r.status();
}

}  // namespace dips
