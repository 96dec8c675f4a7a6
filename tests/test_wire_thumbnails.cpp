// wire (the report's fields): a work item's thumbnail request and a result's thumbnails survive the wire
// exactly; a request out of range is refused. The rest of the wire format is tested in test_wire.cpp.
#include <catch2/catch.hpp>

#include "dips/wire.h"
#include "hostile_bytes.h"

using namespace dips;
using namespace dips::testing;

namespace {

std::shared_ptr<std::vector<uint8_t>> message_bytes(const OutMessage& message) { return std::make_shared<std::vector<uint8_t>>(message.flatten()); }

std::vector<uint8_t> as_vector(const Bytes& bytes) { return std::vector<uint8_t>(bytes.data, bytes.data + bytes.size); }

}  // namespace

TEST_CASE("wire: thumbnail requests and thumbnails round-trip; bad requests are refused", "[wire][thumbnail]") {
  SECTION("a work item's request, in a batch with one that asks for nothing") {
    WorkItem asking = band_work();
    asking.thumbnails = Thumbnails::kAlways;
    asking.thumbnail_px = 160;
    WorkItem on_error = file_work(encode(cv::Mat(4, 4, CV_8UC3, cv::Scalar::all(9)), ".png"));
    on_error.thumbnails = Thumbnails::kOnError;
    on_error.thumbnail_px = kMaxThumbnailPx;
    std::vector<WorkItem> items;
    const auto message = message_bytes(encode_work({asking, band_work(), on_error}));
    REQUIRE(decode_work(message, &items).ok());
    REQUIRE(items.size() == 3);
    CHECK(items[0].thumbnails == Thumbnails::kAlways);
    CHECK(items[0].thumbnail_px == 160);
    CHECK(items[1].thumbnails == Thumbnails::kNone);
    CHECK(items[1].thumbnail_px == 0);
    CHECK(items[2].thumbnails == Thumbnails::kOnError);
    CHECK(items[2].thumbnail_px == kMaxThumbnailPx);
    CHECK(encode_work(items).flatten() == *message);
  }
  SECTION("a result's thumbnails, as the bytes they were") {
    ResultItem result = small_result();
    result.thumbnail_input = Bytes::of({0xff, 0xd8, 1, 2, 3});
    result.thumbnail_output = Bytes::of(std::vector<uint8_t>(300, 7));
    ResultItem without = small_result();
    std::vector<ResultItem> items;
    const auto message = message_bytes(encode_result({result, without}));
    REQUIRE(decode_result(message, &items).ok());
    REQUIRE(items.size() == 2);
    CHECK(as_vector(items[0].thumbnail_input) == as_vector(result.thumbnail_input));
    CHECK(as_vector(items[0].thumbnail_output) == as_vector(result.thumbnail_output));
    CHECK(items[1].thumbnail_input.empty());
    CHECK(items[1].thumbnail_output.empty());
    CHECK(encode_result(items).flatten() == *message);
  }
  SECTION("a request of an unknown kind, or of a size out of range") {
    const std::vector<std::pair<Thumbnails, int>> bad = {
        {Thumbnails::kAlways, 0}, {Thumbnails::kOnError, kMaxThumbnailPx + 1}, {Thumbnails::kNone, 16}, {static_cast<Thumbnails>(3), 16}};
    for (const auto& [mode, px] : bad) {
      WorkItem work = band_work();
      work.thumbnails = mode;
      work.thumbnail_px = static_cast<uint16_t>(px);
      std::vector<WorkItem> items;
      INFO("mode " << static_cast<int>(mode) << ", " << px << " px");
      CHECK_FALSE(decode_work(message_bytes(encode_work({work})), &items).ok());
    }
  }
}
