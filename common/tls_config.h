// TLS for a service (tls_cert, tls_key, ...): the settings as configured, and the
// material the supervisor reads from the files and sends to the child (TlsMaterial,
// its own message, again on every reload). The child terminates TLS in a relay
// process per connection (child/tls_relay.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace gatehouse {

// tls_verify: whether the client must show a certificate signed by tls_client_ca.
enum class TlsVerify : uint8_t { kNone, kOptional, kRequired };
inline constexpr TlsVerify kLastTlsVerify = TlsVerify::kRequired;

inline const char* TlsVerifyName(TlsVerify verify) {
  switch (verify) {
    case TlsVerify::kOptional:
      return "optional";
    case TlsVerify::kRequired:
      return "required";
    default:
      return "none";
  }
}

// The protocol numbers of tls_min_version (OpenSSL's TLS1_2_VERSION, TLS1_3_VERSION).
inline constexpr uint16_t kTls12 = 0x0303;
inline constexpr uint16_t kTls13 = 0x0304;

inline constexpr uint32_t kMaxTlsHandshakeTimeout = 3600;

// What the relay needs besides the certificates and keys.
struct TlsSettings {
  TlsVerify verify = TlsVerify::kNone;
  uint16_t min_version = kTls12;
  uint32_t handshake_timeout = 10;  // seconds from accept to a finished handshake
  std::string ciphers;              // TLS 1.2 cipher list (OpenSSL syntax); empty: OpenSSL's
  std::string ciphersuites;         // TLS 1.3 suites; empty: OpenSSL's
  std::vector<std::string> alpn;    // protocols offered, in preference order; empty: no ALPN
};

// One tls_cert with the tls_key of the same rank, and where each was written.
struct TlsCertKey {
  std::string cert;
  std::string key;
  std::string cert_where;
  std::string key_where;
};

struct TlsConfig {
  // Empty: no TLS. The first is served when the client's SNI names none of them.
  std::vector<TlsCertKey> pairs;
  std::string client_ca;  // PEM file of the CAs that sign client certificates
  std::string client_ca_where;
  TlsSettings settings;
  bool enabled() const { return !pairs.empty(); }
};

// Same paths and settings (not the files' contents, not where they were written):
// a changed file alone does not change the service.
bool SameTlsConfig(const TlsConfig& a, const TlsConfig& b);

// The files' contents as the child gets them.
inline constexpr size_t kMaxTlsPairs = 16;
inline constexpr size_t kMaxTlsPemBytes = 32 * 1024;         // one file
inline constexpr size_t kMaxTlsMaterialPayload = 64 * 1024;  // all of them together
struct TlsMaterial {
  TlsSettings settings;
  std::vector<std::pair<std::string, std::string>> pairs;  // certificate chain PEM, key PEM
  std::string client_ca;                                   // PEM; empty: none
};

std::string EncodePayload(const TlsMaterial& value);
bool DecodePayload(const std::string& payload, TlsMaterial* value, std::string* error);

// The variables a TLS connection's program gets, s6-tlsd's and stunnel's names;
// `env =` may not set them.
inline constexpr const char* kTlsEnvNames[] = {
    "SSL_PROTOCOL",       "SSL_CIPHER",    "SSL_TLS_SNI_SERVERNAME", "SSL_PEER_CERT_SUBJECT",
    "SSL_PEER_CERT_HASH", "SSL_CLIENT_DN", "SSL_CLIENT_I_DN",
};

}  // namespace gatehouse
