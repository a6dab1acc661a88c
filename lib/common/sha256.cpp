#include "common/sha256.h"

#include <openssl/evp.h>

#include <fstream>
#include <vector>

#include <fmt/format.h>

#include "common/error.h"
#include "common/fs.h"

namespace hare {

struct Sha256::Context {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~Context() { EVP_MD_CTX_free(ctx); }
};

namespace {
// OpenSSL fails here only without memory or with a broken installation.
void require(int ok, const char* what) {
  if (ok != 1) throw failure("OpenSSL: {} failed for SHA-256", what);
}
}  // namespace

Sha256::Sha256() : context_(std::make_unique<Context>()) {
  if (context_->ctx == nullptr) throw failure("OpenSSL: cannot allocate a digest context");
  require(EVP_DigestInit_ex(context_->ctx, EVP_sha256(), nullptr), "EVP_DigestInit_ex");
}

Sha256::~Sha256() = default;

void Sha256::update(const void* data, size_t size) {
  require(EVP_DigestUpdate(context_->ctx, data, size), "EVP_DigestUpdate");
}

std::array<uint8_t, 32> Sha256::digest() {
  std::array<uint8_t, 32> out{};
  unsigned int size = 0;
  require(EVP_DigestFinal_ex(context_->ctx, out.data(), &size), "EVP_DigestFinal_ex");
  return out;
}

std::string Sha256::hex_digest() {
  std::string hex;
  for (uint8_t byte : digest()) hex += fmt::format("{:02x}", byte);
  return hex;
}

std::string sha256_hex(std::string_view data) {
  Sha256 hash;
  hash.update(data);
  return hash.hex_digest();
}

std::string sha256_file(const std::string& path) {
  refuse_directory(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw input_error(Location{path}, "cannot open file for hashing");
  Sha256 hash;
  std::vector<char> chunk(1 << 16);
  while (in) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    hash.update(chunk.data(), static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) throw failure("{}: read error while hashing", path);
  return hash.hex_digest();
}

}  // namespace hare
