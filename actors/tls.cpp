#include "actors/tls.h"

#include <fstream>
#include <memory>
#include <stdexcept>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

namespace pio {
namespace {

// OpenSSL's queued errors as one line (and the queue cleared).
std::string openssl_errors() {
  std::string text;
  while (const unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    text += (text.empty() ? "" : "; ") + std::string(buf);
  }
  return text.empty() ? "unknown OpenSSL error" : text;
}

void require_readable(const std::string& path, const char* option) {
  if (path.empty()) throw std::invalid_argument(std::string(option) + ": missing (--tls-cert, --tls-key and --tls-ca go together)");
  if (!std::ifstream(path)) throw std::invalid_argument(std::string(option) + ": cannot read " + path);
}

}  // namespace

void check_tls_files(const TlsFiles& files) {
  require_readable(files.cert, "--tls-cert");
  require_readable(files.key, "--tls-key");
  require_readable(files.ca, "--tls-ca");
  ERR_clear_error();
  const std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_method()), SSL_CTX_free);
  if (!ctx) throw std::runtime_error("TLS: " + openssl_errors());
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), files.cert.c_str()) != 1)
    throw std::invalid_argument("--tls-cert: " + files.cert + " is not a PEM certificate: " + openssl_errors());
  const std::unique_ptr<BIO, decltype(&BIO_free)> key_file(BIO_new_file(files.key.c_str(), "r"), BIO_free);
  const std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      key_file ? PEM_read_bio_PrivateKey(key_file.get(), nullptr, nullptr, const_cast<char*>("")) : nullptr, EVP_PKEY_free);
  if (!key) throw std::invalid_argument("--tls-key: " + files.key + " is not an unencrypted PEM private key: " + openssl_errors());
  if (SSL_CTX_use_PrivateKey(ctx.get(), key.get()) != 1 || SSL_CTX_check_private_key(ctx.get()) != 1) {
    ERR_clear_error();
    throw std::invalid_argument("--tls-key: " + files.key + " is not the key of " + files.cert);
  }
  if (SSL_CTX_load_verify_locations(ctx.get(), files.ca.c_str(), nullptr) != 1)
    throw std::invalid_argument("--tls-ca: " + files.ca + " holds no PEM certificate: " + openssl_errors());
  STACK_OF(X509)* chain = nullptr;
  SSL_CTX_get0_chain_certs(ctx.get(), &chain);
  const std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> verify(X509_STORE_CTX_new(), X509_STORE_CTX_free);
  if (!verify || X509_STORE_CTX_init(verify.get(), SSL_CTX_get_cert_store(ctx.get()), SSL_CTX_get0_certificate(ctx.get()), chain) != 1)
    throw std::runtime_error("TLS: " + openssl_errors());
  if (X509_verify_cert(verify.get()) != 1)
    throw std::invalid_argument("--tls-cert: " + files.cert + " is not accepted by --tls-ca " + files.ca + ": " +
                                X509_verify_cert_error_string(X509_STORE_CTX_get_error(verify.get())));
}

}  // namespace pio
