// The files of mutual TLS on pio's client-API port (CAF's OpenSSL module): this process's
// certificate and key, and the cluster's CA. Both ends present a certificate and each accepts
// only one the CA signed; there is no host-name check, so the CA must be the cluster's own
// (scripts/make-certs makes one).
#pragma once

#include <string>

namespace pio {

struct TlsFiles {
  std::string cert;  // PEM certificate (chain) of this process
  std::string key;   // PEM private key of `cert`, unencrypted
  std::string ca;    // PEM certificate of the CA that signs every peer
  // True when any file is named (then all three must be: check_tls_files).
  bool enabled() const { return !cert.empty() || !key.empty() || !ca.empty(); }
};

// Checks, before any connection, what CAF would otherwise find only inside its network thread
// (where a failure ends the process): all three files are named and readable PEM, the key is
// the certificate's, and the CA signed the certificate. Throws std::invalid_argument naming the
// file and the problem.
void check_tls_files(const TlsFiles& files);

}  // namespace pio
