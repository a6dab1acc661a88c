#pragma once

// SHA-256, used to pin model files, profiles and plan artifacts; computed by
// OpenSSL (libcrypto, EVP), which libssh already brings in.

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace hare {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, size_t size);
  void update(std::string_view data) { update(data.data(), data.size()); }
  // Finishes the hash; the object must not be updated afterwards.
  std::array<uint8_t, 32> digest();
  std::string hex_digest();

 private:
  struct Context;  // OpenSSL's EVP_MD_CTX, kept out of this header
  std::unique_ptr<Context> context_;
};

std::string sha256_hex(std::string_view data);
// Hashes a file in chunks; throws hare::Error naming the file if unreadable.
std::string sha256_file(const std::string& path);

}  // namespace hare
