#pragma once

// SHA-256 (FIPS 180-4), used to pin model files, profiles and plan artifacts.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace hare {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t size);
  void update(std::string_view data) { update(data.data(), data.size()); }
  // Finishes the hash; the object must not be updated afterwards.
  std::array<uint8_t, 32> digest();
  std::string hex_digest();

 private:
  void compress(const uint8_t* block);

  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_{};
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

std::string sha256_hex(std::string_view data);
// Hashes a file in chunks; throws hare::Error naming the file if unreadable.
std::string sha256_file(const std::string& path);

}  // namespace hare
