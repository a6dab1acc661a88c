// Activation codecs: exact half-precision conversion, stated error bounds,
// wire sizes.

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "runtime/codec.h"

using namespace hare;

TEST_CASE("half precision converts exactly where it can and rounds to nearest even", "[codec]") {
  CHECK(float_to_half(0.0f) == 0x0000);
  CHECK(float_to_half(-0.0f) == 0x8000);
  CHECK(float_to_half(1.0f) == 0x3c00);
  CHECK(float_to_half(-2.0f) == 0xc000);
  CHECK(float_to_half(65504.0f) == 0x7bff);                 // the largest half
  CHECK(float_to_half(65520.0f) == 0x7c00);                 // rounds up to infinity
  CHECK(float_to_half(std::ldexp(1.0f, -24)) == 0x0001);    // the smallest subnormal
  CHECK(float_to_half(std::ldexp(1.0f, -26)) == 0x0000);    // below half of it: zero
  CHECK(float_to_half(1.0f + std::ldexp(1.0f, -11)) == 0x3c00);  // a tie: to even (down)
  CHECK(float_to_half(1.0f + 3 * std::ldexp(1.0f, -11)) == 0x3c02);  // a tie: to even (up)
  CHECK(std::isnan(half_to_float(float_to_half(std::numeric_limits<float>::quiet_NaN()))));
  CHECK(half_to_float(float_to_half(std::numeric_limits<float>::infinity())) == std::numeric_limits<float>::infinity());
  // Every half survives half -> float -> half.
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0) continue;  // NaNs
    REQUIRE(float_to_half(half_to_float(static_cast<uint16_t>(h))) == h);
  }
}

TEST_CASE("codecs keep their stated error bounds and wire sizes", "[codec]") {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<float> x(2048);
  for (float& v : x) v = normal(rng);
  float largest = 0.0f;
  for (float v : x) largest = std::max(largest, std::fabs(v));
  for (Codec codec : {Codec::float32, Codec::float16, Codec::int8}) {
    std::vector<uint8_t> wire(wire_bytes(codec, x.size()));
    encode_values(codec, x.data(), x.size(), wire.data());
    std::vector<float> y(x.size());
    decode_values(codec, wire.data(), x.size(), y.data());
    for (size_t i = 0; i < x.size(); ++i) {
      const double xi = x[i];
      const double error = std::fabs(static_cast<double>(y[i]) - xi);
      if (codec == Codec::float32) REQUIRE(error == 0.0);
      if (codec == Codec::float16) REQUIRE(error <= std::fabs(xi) * std::ldexp(1.0, -11) + 1e-7);
      if (codec == Codec::int8) REQUIRE(error <= static_cast<double>(largest) / 127.0 / 2.0 * (1.0 + 1e-6));
    }
  }
  CHECK(wire_bytes(Codec::float32, 768) == 3072);
  CHECK(wire_bytes(Codec::float16, 768) == 1536);
  CHECK(wire_bytes(Codec::int8, 768) == 772);
  CHECK(wire_bytes_of_payload(Codec::int8, 3072) == 772);
  CHECK(parse_codec("int8") == Codec::int8);
  CHECK_FALSE(parse_codec("int4"));
  // All zeros: a zero scale would divide by zero; the codec stays exact.
  std::vector<float> zeros(16, 0.0f);
  std::vector<uint8_t> wire(wire_bytes(Codec::int8, zeros.size()));
  encode_values(Codec::int8, zeros.data(), zeros.size(), wire.data());
  std::vector<float> back(zeros.size(), 1.0f);
  decode_values(Codec::int8, wire.data(), zeros.size(), back.data());
  CHECK(back == zeros);
}
