#include "common/tls_config.h"

#include <tuple>

#include "common/wire_fields.h"

namespace gatehouse {
namespace {

auto Fields(const TlsConfig& c) {
  std::vector<std::pair<std::string, std::string>> files;
  for (const TlsCertKey& pair : c.pairs) files.emplace_back(pair.cert, pair.key);
  const TlsSettings& s = c.settings;
  return std::make_tuple(files, c.client_ca, s.verify, s.min_version, s.handshake_timeout,
                         s.ciphers, s.ciphersuites, s.alpn);
}

}  // namespace

bool SameTlsConfig(const TlsConfig& a, const TlsConfig& b) { return Fields(a) == Fields(b); }

std::string EncodePayload(const TlsMaterial& v) {
  WireWriter w;
  w.U8(static_cast<uint8_t>(v.settings.verify));
  w.U16(v.settings.min_version);
  w.U32(v.settings.handshake_timeout);
  w.Str(v.settings.ciphers);
  w.Str(v.settings.ciphersuites);
  w.StrList(v.settings.alpn);
  w.Blob(v.client_ca);
  w.U32(static_cast<uint32_t>(v.pairs.size()));
  for (const auto& [cert, key] : v.pairs) {
    w.Blob(cert);
    w.Blob(key);
  }
  return w.Take();
}

bool DecodePayload(const std::string& payload, TlsMaterial* v, std::string* error) {
  WireReader r(payload);
  uint8_t verify = 0;
  uint32_t count = 0;
  r.U8("verify", &verify);
  r.U16("min_version", &v->settings.min_version);
  r.U32("handshake_timeout", &v->settings.handshake_timeout);
  r.Str("ciphers", &v->settings.ciphers);
  r.Str("ciphersuites", &v->settings.ciphersuites);
  r.StrList("alpn", &v->settings.alpn);
  r.Blob("client_ca", &v->client_ca, kMaxTlsPemBytes);
  r.U32("pairs", &count);
  if (count <= kMaxTlsPairs) {
    v->pairs.resize(count);
    for (auto& [cert, key] : v->pairs) {
      r.Blob("cert", &cert, kMaxTlsPemBytes);
      r.Blob("key", &key, kMaxTlsPemBytes);
    }
  }
  if (!r.Finish(error)) return false;
  if (count == 0 || count > kMaxTlsPairs) {
    *error = "pairs: " + std::to_string(count) + ", not 1 to " + std::to_string(kMaxTlsPairs);
  } else if (verify > static_cast<uint8_t>(kLastTlsVerify)) {
    *error = "verify: out of range";
  } else if (v->settings.min_version != kTls12 && v->settings.min_version != kTls13) {
    *error = "min_version: not TLS 1.2 or 1.3";
  } else if (v->settings.handshake_timeout < 1 ||
             v->settings.handshake_timeout > kMaxTlsHandshakeTimeout) {
    *error = "handshake_timeout: out of range";
  } else if (verify != 0 && v->client_ca.empty()) {
    *error = "verify: without client_ca";
  } else {
    v->settings.verify = static_cast<TlsVerify>(verify);
    return true;
  }
  return false;
}

}  // namespace gatehouse
