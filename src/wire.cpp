#include "dips/wire.h"

#include <fmt/format.h>

#include <cstring>
#include <limits>

namespace dips {
namespace {

constexpr uint32_t kWorkMagic = 0x44495057;    // "DIPW"
constexpr uint32_t kResultMagic = 0x44495052;  // "DIPR"
constexpr uint32_t kHelloMagic = 0x44495048;   // "DIPH"
constexpr uint32_t kProgressMagic = 0x44495044;  // "DIPD"
constexpr size_t kMaxSteps = 64;
constexpr size_t kMaxStrings = 1 << 16;
constexpr uint32_t kMaxCpus = 1 << 16;  // CPU ids and counts (Linux allows 8192 CPUs)
constexpr size_t kMaxItems = 1 << 20;
constexpr size_t kAlign = 64;  // payloads start on cache lines, so that pixel rows are well aligned

size_t aligned(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

// Lets a cv::Mat point into a received message without copying and keep the message alive: its
// UMatData holds a reference to the buffer, released when the last Mat sharing the pixels goes (the
// pattern of OpenCV's own numpy allocator in its Python bindings).
class BufferAllocator : public cv::MatAllocator {
 public:
  cv::UMatData* allocate(int, const int*, int, void*, size_t*, cv::AccessFlag, cv::UMatUsageFlags) const override {
    return nullptr;  // never asked: only wrap() makes matrices with this allocator, and they own no storage
  }
  bool allocate(cv::UMatData*, cv::AccessFlag, cv::UMatUsageFlags) const override { return false; }
  void deallocate(cv::UMatData* u) const override {
    if (u == nullptr || u->refcount > 0) return;
    delete static_cast<std::shared_ptr<const void>*>(u->userdata);
    delete u;
  }
  cv::Mat wrap(const Bytes& bytes, int rows, int cols, int type) {
    cv::Mat m(rows, cols, type, const_cast<uint8_t*>(bytes.data));
    cv::UMatData* u = new cv::UMatData(this);
    u->data = u->origdata = const_cast<uint8_t*>(bytes.data);
    u->size = bytes.size;
    u->userdata = new std::shared_ptr<const void>(bytes.owner);
    m.u = u;
    m.allocator = this;
    m.addref();
    return m;
  }
};

BufferAllocator& buffer_allocator() {
  static BufferAllocator allocator;
  return allocator;
}

const Bytes& zero_padding() {
  static const Bytes zeros = Bytes::of(std::vector<uint8_t>(kAlign, 0));
  return zeros;
}

// Writes the head of a message; large payloads go to parts, each aligned, in the order they are named.
class Writer {
 public:
  template <typename T>
  void put(T value) {
    static_assert(std::is_trivially_copyable_v<T>);
    std::memcpy(room(sizeof(T)), &value, sizeof(T));
  }
  void put_string(const std::string& s) {
    put<uint64_t>(s.size());
    std::memcpy(room(s.size()), s.data(), s.size());
  }
  void put_strings(const std::vector<std::string>& strings) {
    put<uint32_t>(static_cast<uint32_t>(strings.size()));
    for (const auto& s : strings) put_string(s);
  }
  void put_cpus(const std::vector<int>& cpus) {
    put<uint32_t>(static_cast<uint32_t>(cpus.size()));
    for (int cpu : cpus) put<uint32_t>(static_cast<uint32_t>(cpu));
  }
  void put_doubles(const std::vector<double>& values) {
    put<uint32_t>(static_cast<uint32_t>(values.size()));
    for (double v : values) put(v);
  }
  void put_steps(const Pipeline& steps) {
    put<uint32_t>(static_cast<uint32_t>(steps.size()));
    for (const Step& step : steps) {
      put<uint32_t>(static_cast<uint32_t>(step.op - operations().data()));
      put<int32_t>(step.param);
    }
  }
  void put_rows(const PieceRows& rows) {
    put<int32_t>(rows.row0);
    put<int32_t>(rows.row1);
    put<int32_t>(rows.in_row0);
    put<int32_t>(rows.in_row1);
  }
  void put_payload(Bytes bytes) {
    put<uint64_t>(bytes.size);
    if (bytes.size > 0) payloads_.push_back(std::move(bytes));
  }
  // A matrix as its header and one payload of its rows (no copy when its rows are contiguous).
  void put_mat(const cv::Mat& m) {
    put<int32_t>(m.rows);
    put<int32_t>(m.cols);
    put<int32_t>(m.empty() ? 0 : m.type());
    if (m.empty()) return put_payload(Bytes());
    cv::Mat contiguous = m.isContinuous() ? m : m.clone();
    auto owner = std::make_shared<cv::Mat>(contiguous);
    put_payload(Bytes{owner, owner->data, owner->total() * owner->elemSize()});
  }
  // Patches the head size in, pads it, and appends the payloads, each padded to the alignment.
  OutMessage finish(size_t head_size_at) {
    const uint64_t head_size = aligned(size_);
    std::memcpy(head_.data() + head_size_at, &head_size, sizeof(head_size));
    head_.resize(head_size, 0);  // the padding: zeros, as is the slack room() grew beyond size_
    OutMessage message;
    message.head = std::move(head_);
    for (Bytes& payload : payloads_) {
      const size_t padding = aligned(payload.size) - payload.size;
      message.parts.push_back(std::move(payload));
      if (padding > 0) message.parts.push_back(Bytes{zero_padding().owner, zero_padding().data, padding});
    }
    return message;
  }
  size_t size() const { return size_; }
  // The head alone, for messages without payloads.
  std::vector<uint8_t> take_head() {
    head_.resize(size_);
    return std::move(head_);
  }

 private:
  // n more bytes at the end of the head. The vector grows ahead of the head (size_ bytes of it are
  // written): inserting field by field, an out-of-line call each, was a tenth of rank 0's instructions
  // on a folder of thumbnails.
  uint8_t* room(size_t n) {
    if (size_ + n > head_.size()) head_.resize(std::max(2 * head_.size(), size_ + n + 256));
    uint8_t* at = head_.data() + size_;
    size_ += n;
    return at;
  }
  std::vector<uint8_t> head_;
  size_t size_ = 0;  // bytes of head_ written
  std::vector<Bytes> payloads_;
};

// Reads a head written by Writer; payloads are handed out in order from the payload area.
class Reader {
 public:
  explicit Reader(std::shared_ptr<const std::vector<uint8_t>> buffer)
      : head_end_(buffer->size()), buffer_(std::move(buffer)), data_(buffer_->data()), size_(buffer_->size()) {}

  template <typename T>
  bool get(T* value) {
    if (remaining() < sizeof(T)) return fail("truncated message");
    std::memcpy(value, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  // Only 0 and 1, so that every flag has one encoding.
  bool get_flag(bool* flag) {
    uint8_t byte = 0;
    if (!get(&byte)) return false;
    if (byte > 1) return fail("flag is not 0 or 1");
    *flag = byte == 1;
    return true;
  }
  bool get_string(std::string* s) {
    uint64_t length = 0;
    if (!get(&length)) return false;
    if (length > remaining()) return fail("field length beyond the message");  // what is left after the length
    s->assign(reinterpret_cast<const char*>(data_ + pos_), length);
    pos_ += length;
    return true;
  }
  bool get_strings(std::vector<std::string>* strings) {
    uint32_t count = 0;
    if (!get(&count)) return false;
    if (count > kMaxStrings) return fail("too many strings");
    if (count > remaining() / sizeof(uint64_t)) return fail("more strings than the message holds");  // before allocating
    strings->resize(count);
    for (auto& s : *strings) {
      if (!get_string(&s)) return false;
    }
    return true;
  }
  // Ascending and distinct, so that every set of CPUs has one encoding.
  bool get_cpus(std::vector<int>* cpus) {
    uint32_t count = 0;
    if (!get(&count)) return false;
    if (count > kMaxCpus || count > remaining() / sizeof(uint32_t)) return fail("bad CPU count");
    cpus->clear();
    for (uint32_t i = 0; i < count; ++i) {
      uint32_t cpu = 0;
      if (!get(&cpu)) return false;
      if (cpu >= kMaxCpus || (!cpus->empty() && cpu <= static_cast<uint32_t>(cpus->back()))) return fail("CPUs out of order or range");
      cpus->push_back(static_cast<int>(cpu));
    }
    return true;
  }
  bool get_histogram(std::vector<double>* bins) {
    uint32_t count = 0;
    if (!get(&count)) return false;
    if (count != 0 && count != 256) return fail("histogram is not 256 bins");
    bins->resize(count);
    for (double& bin : *bins) {
      if (!get(&bin)) return false;
    }
    return true;
  }
  bool get_steps(Pipeline* steps) {
    uint32_t count = 0;
    if (!get(&count)) return false;
    if (count > kMaxSteps) return fail("bad step count");
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
  bool get_rows(PieceRows* rows) { return get(&rows->row0) && get(&rows->row1) && get(&rows->in_row0) && get(&rows->in_row1); }
  bool get_payload(Bytes* bytes) {
    uint64_t length = 0;
    if (!get(&length)) return false;
    if (length > size_ - payload_pos_ || aligned(length) > size_ - payload_pos_) return fail("payload beyond the message");
    *bytes = length == 0 ? Bytes() : Bytes{buffer_, data_ + payload_pos_, static_cast<size_t>(length)};
    if (!zeros(payload_pos_ + length, payload_pos_ + aligned(length))) return fail("padding is not zero");
    payload_pos_ += aligned(length);
    return true;
  }
  bool get_mat(cv::Mat* m) {
    int32_t rows = 0, cols = 0, type = 0;
    if (!get(&rows) || !get(&cols) || !get(&type)) return false;
    Bytes bytes;
    if (!get_payload(&bytes)) return false;
    if (rows == 0 && cols == 0 && type == 0 && bytes.empty()) {
      *m = cv::Mat();
      return true;
    }
    if (rows <= 0 || cols <= 0 || (type != CV_8UC1 && type != CV_8UC3)) return fail("bad image header");
    if (static_cast<uint64_t>(rows) * cols * CV_ELEM_SIZE(type) != bytes.size) return fail("image byte count does not match its size");
    *m = buffer_allocator().wrap(bytes, rows, cols, type);  // points into the buffer and keeps it alive
    return true;
  }
  // Reads the head size written after the ids and starts the payload area there.
  bool begin_payloads() {
    uint64_t head_size = 0;
    if (!get(&head_size)) return false;
    if (head_size < pos_ || head_size > size_ || head_size % kAlign != 0) return fail("bad head size");
    head_end_ = head_size;
    payload_pos_ = head_size;
    return true;
  }
  // The head ends where its fields end, padded with zeros; the payloads fill the rest exactly: a
  // message decodes only if encoding it again gives the same bytes.
  bool at_end() {
    if (aligned(pos_) != head_end_ || !zeros(pos_, head_end_)) return fail("bytes after the head's fields");
    if (payload_pos_ != size_) return fail("trailing bytes after message");
    return true;
  }
  // For messages without payloads (hello, hello reply): the fields end where the message ends.
  bool at_end_of_fields() {
    if (pos_ != size_) return fail("trailing bytes after message");
    return true;
  }
  bool zeros(size_t from, size_t to) const {
    for (size_t i = from; i < to; ++i) {
      if (data_[i] != 0) return false;
    }
    return true;
  }
  // Bytes left to read in the head: every count is checked against them before anything is allocated.
  size_t remaining() const { return head_end_ - pos_; }
  Status status() const { return error_.empty() ? Status() : Status::Error(error_); }
  bool fail(std::string what) {
    if (error_.empty()) error_ = fmt::format("malformed message at byte {}: {}", pos_, what);
    return false;
  }
  size_t head_end_;  // the head's end: no field reads beyond it

 private:
  std::shared_ptr<const std::vector<uint8_t>> buffer_;
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  size_t payload_pos_ = 0;
  std::string error_;
};

template <typename Item>
const Item& item_ref(const Item& item) { return item; }
template <typename Item>
const Item& item_ref(const Item* item) { return *item; }

// Magic, item count and the ids, then the head size: the ids stay readable when the rest is broken.
template <typename Item>
size_t put_prologue(Writer& w, uint32_t magic, const std::vector<Item>& items) {
  w.put(magic);
  w.put<uint32_t>(static_cast<uint32_t>(items.size()));
  for (const auto& item : items) w.put(item_ref(item).piece_id);
  const size_t head_size_at = w.size();
  w.put<uint64_t>(0);
  return head_size_at;
}

bool get_prologue(Reader& r, uint32_t magic, std::vector<uint64_t>* ids) {
  uint32_t found = 0, count = 0;
  if (!r.get(&found)) return false;
  if (found != magic) return r.fail("wrong message kind");
  if (!r.get(&count)) return false;
  if (count > kMaxItems) return r.fail("too many items");
  if (count > r.remaining() / sizeof(uint64_t)) return r.fail("more items than the message holds");  // before allocating
  ids->resize(count);
  for (uint64_t& id : *ids) {
    if (!r.get(&id)) return false;
  }
  return true;
}

// A buffer the caller keeps alive, for messages whose fields are all copied out.
std::shared_ptr<const std::vector<uint8_t>> borrowed(const std::vector<uint8_t>& buffer) {
  return std::shared_ptr<const std::vector<uint8_t>>(&buffer, [](const std::vector<uint8_t>*) {});
}

Status check_work(const WorkItem& m) {
  const auto bad = [](const char* what) { return Status::Error(fmt::format("malformed message: {}", what)); };
  if ((m.source == Source::kPath || m.source == Source::kPixelFile) && m.path.empty()) return bad("a path source without a path");
  if (m.source == Source::kFile && m.file.empty()) return bad("a file source without bytes");
  if (m.source == Source::kPixels && m.pixels.empty()) return bad("a pixel source without pixels");
  if ((m.sink == Sink::kWriteFile || m.sink == Sink::kPixelFile) && m.output_path.empty()) return bad("a file sink without a path");
  const bool encodes = m.sink != Sink::kPixels && m.sink != Sink::kPixelFile;
  if (encodes && m.output_ext.empty()) return bad("an encoding sink without a format");
  if (m.sink == Sink::kBand && (!m.band || m.image_width <= 0 || m.image_height <= 0 || m.rows.row1 > m.image_height)) {
    return bad("a band sink without a band of a sized image");
  }
  const bool probe_sink = m.sink == Sink::kPixels || m.sink == Sink::kPixelFile;
  const bool file_source = m.source == Source::kPath || m.source == Source::kFile;
  if (m.sink == Sink::kPixelFile && !m.probe) return bad("a pixel file sink on a piece that is no probe");
  if (!m.rows_from_file && !m.probe) return bad("a probe's choice of decoding on a piece that is no probe");
  if (m.probe && (!file_source || m.band || !m.steps.empty() || !probe_sink)) {
    return bad("a probe that is not a plain file decode");
  }
  if (m.finish.op != nullptr && m.finish.op->finish == nullptr) return bad("a finish of an operation that has none");
  const bool thumbnail_size_ok = m.thumbnails == Thumbnails::kNone ? m.thumbnail_px == 0 : m.thumbnail_px >= 1 && m.thumbnail_px <= kMaxThumbnailPx;
  if (!thumbnail_size_ok) return bad("thumbnail size out of range");
  if (!m.band) return Status();
  const PieceRows& rows = m.rows;
  const bool sane = rows.in_row0 >= 0 && rows.in_row0 <= rows.row0 && rows.row0 < rows.row1 && rows.row1 <= rows.in_row1;
  if (!sane) return bad("band rows out of order");
  if (m.source == Source::kPixels && rows.in_row1 - rows.in_row0 != m.pixels.rows) return bad("band rows do not match its image");
  if (plan_stages(m.steps).size() > 1) return bad("band steps are not one stage");
  return Status();
}

}  // namespace

Bytes Bytes::of(std::vector<uint8_t> vector) {
  auto owner = std::make_shared<const std::vector<uint8_t>>(std::move(vector));
  return Bytes{owner, owner->data(), owner->size()};
}

size_t OutMessage::size() const {
  size_t total = head.size();
  for (const Bytes& part : parts) total += part.size;
  return total;
}

std::vector<uint8_t> OutMessage::flatten() const {
  std::vector<uint8_t> all;
  all.reserve(size());
  all.insert(all.end(), head.begin(), head.end());
  for (const Bytes& part : parts) all.insert(all.end(), part.data, part.data + part.size);
  return all;
}

OutMessage encode_ping() {
  OutMessage ping;
  ping.head.assign(8, 0);  // the sequence number, not used yet
  return ping;
}

OutMessage encode_work(const std::vector<const WorkItem*>& items) {
  Writer w;
  const size_t head_size_at = put_prologue(w, kWorkMagic, items);
  for (const WorkItem* item : items) {
    const WorkItem& m = *item;
    w.put(static_cast<uint8_t>(m.source));
    w.put_string(m.path);
    w.put_payload(m.file);
    w.put_mat(m.pixels);
    w.put<uint8_t>(m.band);
    w.put_rows(m.rows);
    w.put_steps(m.finish.op ? Pipeline{m.finish} : Pipeline{});
    w.put_doubles(m.histogram);
    w.put_steps(m.steps);
    w.put<uint8_t>(m.probe);
    w.put<uint8_t>(m.rows_from_file);
    w.put(static_cast<uint8_t>(m.sink));
    w.put_string(m.output_ext);
    w.put_string(m.output_path);
    w.put<int32_t>(m.image_width);
    w.put<int32_t>(m.image_height);
    w.put<uint8_t>(m.sync);
    w.put(m.max_pixels);
    w.put(m.max_file_bytes);
    w.put(static_cast<uint8_t>(m.thumbnails));
    w.put(m.thumbnail_px);
    w.put<uint8_t>(m.replace);
  }
  return w.finish(head_size_at);
}

OutMessage encode_work(const std::vector<WorkItem>& items) {
  std::vector<const WorkItem*> pointers;
  pointers.reserve(items.size());
  for (const WorkItem& item : items) pointers.push_back(&item);
  return encode_work(pointers);
}

Status decode_work(const std::shared_ptr<const std::vector<uint8_t>>& buffer, std::vector<WorkItem>* items) {
  Reader r(buffer);
  std::vector<uint64_t> ids;
  if (!get_prologue(r, kWorkMagic, &ids) || !r.begin_payloads()) return r.status();
  items->assign(ids.size(), WorkItem());
  for (size_t i = 0; i < ids.size(); ++i) {
    WorkItem& m = (*items)[i];
    m.piece_id = ids[i];
    uint8_t source = 0, sink = 0, thumbnails = 0;
    Pipeline finish;
    const bool ok = r.get(&source) && r.get_string(&m.path) && r.get_payload(&m.file) && r.get_mat(&m.pixels) && r.get_flag(&m.band) &&
                    r.get_rows(&m.rows) && r.get_steps(&finish) && r.get_histogram(&m.histogram) && r.get_steps(&m.steps) &&
                    r.get_flag(&m.probe) && r.get_flag(&m.rows_from_file) && r.get(&sink) && r.get_string(&m.output_ext) && r.get_string(&m.output_path) &&
                    r.get(&m.image_width) && r.get(&m.image_height) && r.get_flag(&m.sync) && r.get(&m.max_pixels) &&
                    r.get(&m.max_file_bytes) && r.get(&thumbnails) && r.get(&m.thumbnail_px) && r.get_flag(&m.replace);
    if (!ok) return r.status();
    if (thumbnails > static_cast<uint8_t>(Thumbnails::kAlways)) return Status::Error("malformed message: unknown thumbnail request");
    m.thumbnails = static_cast<Thumbnails>(thumbnails);
    if (source < 1 || source > 4) return Status::Error("malformed message: unknown source");
    if (sink < 1 || sink > 5) return Status::Error("malformed message: unknown sink");
    m.source = static_cast<Source>(source);
    m.sink = static_cast<Sink>(sink);
    if (finish.size() > 1) return Status::Error("malformed message: more than one finish");
    if (!finish.empty()) m.finish = finish.front();
    Status status = check_work(m);
    if (!status.ok()) return status;
  }
  if (!r.at_end()) return r.status();
  return Status();
}

OutMessage encode_result(const std::vector<ResultItem>& items) {
  Writer w;
  const size_t head_size_at = put_prologue(w, kResultMagic, items);
  for (const ResultItem& m : items) {
    w.put_string(m.error);
    w.put<int32_t>(m.width);
    w.put<int32_t>(m.height);
    w.put_strings(m.decoded);
    w.put_doubles(m.histogram);
    w.put_mat(m.pixels);
    w.put<uint8_t>(m.cheap_rows);
    w.put_payload(m.encoded);
    w.put<int32_t>(m.band.width);
    w.put<int32_t>(m.band.height);
    w.put<int32_t>(m.band.channels);
    w.put<int32_t>(m.band.row0);
    w.put<int32_t>(m.band.rows);
    w.put<uint8_t>(m.band.png);
    w.put(m.band.adler32);
    w.put(m.band.raw_size);
    w.put(m.written);
    w.put(m.input_size);
    w.put(m.input_mtime_ns);
    w.put(m.compute_ms);
    w.put(m.queue_ms);
    w.put_payload(m.thumbnail_input);
    w.put_payload(m.thumbnail_output);
    w.put_mat(m.thumbnail_input_rows);
    w.put_mat(m.thumbnail_output_rows);
  }
  return w.finish(head_size_at);
}

Status decode_result(const std::shared_ptr<const std::vector<uint8_t>>& buffer, std::vector<ResultItem>* items) {
  Reader r(buffer);
  std::vector<uint64_t> ids;
  if (!get_prologue(r, kResultMagic, &ids) || !r.begin_payloads()) return r.status();
  items->clear();
  items->resize(ids.size());  // built in place: copying an empty item copies its matrices' headers
  for (size_t i = 0; i < ids.size(); ++i) {
    ResultItem& m = (*items)[i];
    m.piece_id = ids[i];
    const bool ok = r.get_string(&m.error) && r.get(&m.width) && r.get(&m.height) && r.get_strings(&m.decoded) &&
                    r.get_histogram(&m.histogram) && r.get_mat(&m.pixels) && r.get_flag(&m.cheap_rows) && r.get_payload(&m.encoded) &&
                    r.get(&m.band.width) && r.get(&m.band.height) && r.get(&m.band.channels) && r.get(&m.band.row0) &&
                    r.get(&m.band.rows) && r.get_flag(&m.band.png) && r.get(&m.band.adler32) && r.get(&m.band.raw_size) &&
                    r.get(&m.written) && r.get(&m.input_size) && r.get(&m.input_mtime_ns) && r.get(&m.compute_ms) && r.get(&m.queue_ms) && r.get_payload(&m.thumbnail_input) &&
                    r.get_payload(&m.thumbnail_output) && r.get_mat(&m.thumbnail_input_rows) && r.get_mat(&m.thumbnail_output_rows);
    if (!ok) return r.status();
    const EncodedBand& band = m.band;  // described when it has rows (a kBand result)
    const bool sane_band = band.width > 0 && band.height > 0 && (band.channels == 1 || band.channels == 3 || band.channels == 4) &&
                           band.row0 >= 0 && band.rows <= band.height - band.row0;
    if (band.rows != 0 && (band.rows < 0 || !sane_band)) return Status::Error("malformed message: band description out of range");
  }
  if (!r.at_end()) return r.status();
  return Status();
}

std::vector<uint64_t> readable_piece_ids(const std::vector<uint8_t>& buffer) {
  Reader r(borrowed(buffer));
  std::vector<uint64_t> ids;
  if (!get_prologue(r, kWorkMagic, &ids)) return {};
  return ids;
}

std::vector<uint8_t> encode_progress(const DecodeProgress& progress) {
  Writer w;
  w.put(kProgressMagic);
  w.put(progress.piece_id);
  w.put<int32_t>(progress.width);
  w.put<int32_t>(progress.height);
  w.put<int32_t>(progress.rows);
  return w.take_head();
}

std::vector<uint8_t> encode_hello(const Hello& hello) {
  Writer w;
  w.put(kHelloMagic);
  w.put_string(hello.probe_path);
  w.put_string(hello.probe_token);
  w.put_string(hello.input_path);
  w.put(hello.input_size);
  return w.take_head();
}

std::vector<uint8_t> encode_hello_reply(const HelloReply& reply) {
  Writer w;
  w.put(kHelloMagic + 1);
  w.put_string(reply.host);
  w.put(reply.pid);
  w.put<int32_t>(reply.threads);
  w.put<uint8_t>(reply.sees_files);
  w.put_cpus(reply.cpus);
  return w.take_head();
}

Status decode_progress(const std::vector<uint8_t>& buffer, DecodeProgress* progress) {
  Reader r(borrowed(buffer));
  uint32_t magic = 0;
  int32_t width = 0, height = 0, rows = 0;
  if (!r.get(&magic) || magic != kProgressMagic) return Status::Error("malformed message: not a decode progress");
  if (!(r.get(&progress->piece_id) && r.get(&width) && r.get(&height) && r.get(&rows) && r.at_end_of_fields())) return r.status();
  if (width <= 0 || height <= 0 || rows <= 0 || rows > height) return Status::Error("malformed message: decode progress out of range");
  progress->width = width;
  progress->height = height;
  progress->rows = rows;
  return Status();
}

Status decode_hello(const std::vector<uint8_t>& buffer, Hello* hello) {
  Reader r(borrowed(buffer));
  uint32_t magic = 0;
  if (!r.get(&magic) || magic != kHelloMagic) return Status::Error("malformed message: not a hello");
  const bool ok = r.get_string(&hello->probe_path) && r.get_string(&hello->probe_token) && r.get_string(&hello->input_path) &&
                  r.get(&hello->input_size) && r.at_end_of_fields();
  return ok ? Status() : r.status();
}

Status decode_hello_reply(const std::vector<uint8_t>& buffer, HelloReply* reply) {
  Reader r(borrowed(buffer));
  uint32_t magic = 0;
  int32_t threads = 0;
  if (!r.get(&magic) || magic != kHelloMagic + 1) return Status::Error("malformed message: not a hello reply");
  const bool ok = r.get_string(&reply->host) && r.get(&reply->pid) && r.get(&threads) && r.get_flag(&reply->sees_files) &&
                  r.get_cpus(&reply->cpus) && r.at_end_of_fields();
  if (!ok) return r.status();
  if (threads < 1 || threads > 4096) return Status::Error("malformed message: thread count out of range");
  reply->threads = threads;
  return Status();
}

}  // namespace dips
