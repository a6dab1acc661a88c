#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <random>

#include "runtime/codec.h"
#include "runtime/frame.h"

using namespace hare;
using namespace hare::runtime;

namespace {
FrameHeader sample_header() {
  FrameHeader h;
  h.sequence = 42;
  h.stream = 3;
  h.label = 7;
  h.destination = 2;
  h.shape = {1, 32, 64};
  h.origin_ns = 1000;
  h.send_ns = 2000;
  h.trace = {HopTrace{1, 0, 3072, 10, 20, 30}};
  return h;
}
}  // namespace

TEST_CASE("frames round-trip with their payload and trace", "[runtime]") {
  std::vector<float> payload(32 * 64);
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<float>(i) * 0.5f;
  FrameHeader header = sample_header();
  header.member = 2;  // sent by the third member of its stage's group
  header.plan_tag = 0xa1b2;
  const auto bytes = encode(header, payload.data(), payload.size() * 4);
  CHECK(bytes.size() == kHeaderBytes + payload.size() * 4);
  CHECK(bytes[29] == 2);
  CHECK(bytes[30] == 0xb2);  // little-endian
  CHECK(bytes[31] == 0xa1);
  FrameView view;
  REQUIRE(decode(bytes.data(), bytes.size(), view) == DecodeError::none);
  CHECK(view.header.sequence == 42);
  CHECK(view.header.member == 2);
  CHECK(view.header.plan_tag == 0xa1b2);
  CHECK(view.header.label == 7);
  CHECK(view.header.shape == std::vector<int64_t>{1, 32, 64});
  REQUIRE(view.header.trace.size() == 1);
  CHECK(view.header.trace[0].ended_ns == 30);
  CHECK(std::memcmp(view.data, payload.data(), payload.size() * 4) == 0);

  FrameHeader end;
  end.kind = FrameKind::end;
  end.sequence = 100;
  end.destination = kSinkDestination;
  const auto end_bytes = encode(end, nullptr, 0);
  REQUIRE(decode(end_bytes.data(), end_bytes.size(), view) == DecodeError::none);
  CHECK(view.header.kind == FrameKind::end);
  CHECK(view.payload_bytes == 0);
}

TEST_CASE("compressed frames carry their codec and decode to floats", "[runtime]") {
  std::vector<float> values(32 * 64);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i % 97) * 0.25f - 10.0f;
  for (Codec codec : {Codec::float16, Codec::int8}) {
    FrameHeader header = sample_header();
    header.dtype = static_cast<DType>(codec);
    std::vector<uint8_t> wire(wire_bytes(codec, values.size()));
    encode_values(codec, values.data(), values.size(), wire.data());
    const auto bytes = encode(header, wire.data(), wire.size());
    FrameView view;
    REQUIRE(decode(bytes.data(), bytes.size(), view) == DecodeError::none);
    CHECK(view.header.dtype == static_cast<DType>(codec));
    CHECK(view.payload_bytes == wire.size());
    CHECK(view.data == nullptr);  // not float32: only through frame_values
    std::vector<float> scratch;
    const float* decoded = frame_values(view, scratch);
    for (size_t i = 0; i < values.size(); ++i) REQUIRE(std::fabs(decoded[i] - values[i]) <= 0.07f);
  }
}

TEST_CASE("every kind of bad frame is detected", "[runtime]") {
  std::vector<float> payload(32 * 64, 1.0f);
  const auto good = encode(sample_header(), payload.data(), payload.size() * 4);
  FrameView view;
  auto corrupt = [&](size_t offset, std::vector<uint8_t> bytes_at) {
    std::vector<uint8_t> bytes(good.begin(), good.end());
    std::memcpy(bytes.data() + offset, bytes_at.data(), bytes_at.size());
    return decode(bytes.data(), bytes.size(), view);
  };
  CHECK(decode(good.data(), 100, view) == DecodeError::too_short);
  CHECK(decode(good.data(), good.size() - 1, view) == DecodeError::size_mismatch);
  CHECK(corrupt(0, {'X'}) == DecodeError::bad_magic);
  CHECK(corrupt(4, {9, 0}) == DecodeError::bad_version);
  CHECK(corrupt(6, {7, 0}) == DecodeError::bad_kind);
  CHECK(corrupt(26, {9}) == DecodeError::bad_dtype);
  CHECK(corrupt(26, {0}) == DecodeError::bad_dtype);
  CHECK(corrupt(26, {2}) == DecodeError::size_mismatch);  // float16 would be half the bytes
  CHECK(corrupt(27, {7}) == DecodeError::bad_rank);
  CHECK(corrupt(28, {9}) == DecodeError::bad_trace);
  CHECK(corrupt(48, {0, 0, 0, 0, 0, 0, 0, 0}) == DecodeError::bad_shape);                    // a zero dimension
  CHECK(corrupt(56, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}) == DecodeError::bad_shape);  // huge
  CHECK(corrupt(72, {1, 0, 0, 0, 0, 0, 0, 0}) == DecodeError::bad_shape);                    // a dim past the rank
  CHECK(corrupt(96, {0, 0, 0, 0, 0, 0, 0, 1}) == DecodeError::too_large);
  CHECK(corrupt(96, {4, 0, 0, 0, 0, 0, 0, 0}) == DecodeError::size_mismatch);
}

TEST_CASE("the decoder survives 200,000 random and mutated frames", "[runtime]") {
  std::mt19937 rng(5);
  std::vector<float> payload(6 * 128, 0.25f);
  FrameHeader h = sample_header();
  h.shape = {1, 6, 128};
  const auto good = encode(h, payload.data(), payload.size() * 4);
  int accepted = 0;
  FrameView view;
  for (int i = 0; i < 200000; ++i) {
    const std::vector<uint8_t> bytes = [&] {
      switch (i % 4) {
        case 0: {  // random bytes of random length
          std::vector<uint8_t> out(std::uniform_int_distribution<size_t>(0, 4000)(rng));
          for (auto& b : out) b = static_cast<uint8_t>(rng());
          return out;
        }
        case 1: {  // a good frame with a few header bytes flipped
          std::vector<uint8_t> out(good.begin(), good.end());
          for (int k = 0; k < 3; ++k) out[std::uniform_int_distribution<size_t>(0, kHeaderBytes - 1)(rng)] ^= static_cast<uint8_t>(rng());
          return out;
        }
        case 2: {  // truncated or extended
          std::vector<uint8_t> out(good.begin(), good.end());
          out.resize(std::uniform_int_distribution<size_t>(0, good.size() * 2)(rng), 0xAB);
          return out;
        }
        default: {  // a valid header with a random shape
          FrameHeader r = h;
          r.shape.clear();
          const int rank = std::uniform_int_distribution<int>(0, 8)(rng);
          for (int k = 0; k < rank; ++k) r.shape.push_back(std::uniform_int_distribution<int64_t>(-2, 70)(rng));
          return encode(r, payload.data(), std::uniform_int_distribution<size_t>(0, payload.size() * 4)(rng));
        }
      }
    }();
    if (decode(bytes.data(), bytes.size(), view) == DecodeError::none) {
      ++accepted;
      // Whatever is accepted is self-consistent.
      REQUIRE(view.payload_bytes == bytes.size() - kHeaderBytes);
      REQUIRE(view.header.payload_bytes() == view.payload_bytes);
    }
  }
  CHECK(accepted > 0);
}
