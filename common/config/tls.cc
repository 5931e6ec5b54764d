// TLS keys (tls_cert, tls_key, ...): read together, since a key is paired with a
// certificate by rank and the rest only mean something with them.
#include <openssl/ssl.h>

#include <cstdint>

#include "common/config/resolve.h"
#include "common/parse_number.h"

namespace gatehouse {
namespace {

const std::vector<ConfigEntry>& Entries(const Settings& settings, const char* key) {
  static const std::vector<ConfigEntry> kNone;
  auto found = settings.find(key);
  return found == settings.end() ? kNone : found->second;
}

bool AbsolutePath(const ConfigEntry& entry, ConfigErrors* errors) {
  if (!entry.value.empty() && entry.value[0] == '/') return true;
  errors->Add(entry, "\"" + entry.value + "\" is not an absolute path");
  return false;
}

void ResolvePairs(const Settings& settings, TlsConfig* tls, ConfigErrors* errors) {
  std::vector<const ConfigEntry*> certs, keys;
  for (const ConfigEntry& entry : Entries(settings, "tls_cert")) {
    if (!entry.value.empty()) certs.push_back(&entry);
  }
  for (const ConfigEntry& entry : Entries(settings, "tls_key")) {
    if (!entry.value.empty()) keys.push_back(&entry);
  }
  if (certs.size() != keys.size()) {
    const ConfigEntry& odd = certs.size() > keys.size() ? *certs[keys.size()] : *keys[certs.size()];
    errors->Add(odd, "each tls_cert needs a tls_key, paired in the order given (" +
                         std::to_string(certs.size()) + " tls_cert, " +
                         std::to_string(keys.size()) + " tls_key)");
    return;
  }
  if (certs.size() > kMaxTlsPairs) {
    errors->Add(*certs[kMaxTlsPairs], "at most " + std::to_string(kMaxTlsPairs) + " certificates");
    return;
  }
  for (size_t i = 0; i < certs.size(); ++i) {
    if (!AbsolutePath(*certs[i], errors) || !AbsolutePath(*keys[i], errors)) continue;
    tls->pairs.push_back({certs[i]->value, keys[i]->value, certs[i]->where, keys[i]->where});
  }
}

// The modes TLS cannot sit in front of: a wait program accepts by itself, and a
// datagram would need DTLS.
void CheckMode(const Settings& settings, const ServiceConfig& service, ConfigErrors* errors) {
  const ConfigEntry& cert = Entries(settings, "tls_cert").front();
  if (service.program.mode == ServiceMode::kWait) {
    errors->Add(cert,
                "mode = wait: the program accepts its clients itself, so gatehouse cannot "
                "terminate TLS for it");
    return;
  }
  for (const ServicePort& port : service.ports) {
    if (port.spec.datagram()) {
      errors->Add(cert, "TLS needs a stream; port " + port.spec.ToString() + " (" + port.where +
                            ") is a datagram socket (DTLS is not supported)");
      return;
    }
  }
}

void ResolveSettings(const Settings& settings, TlsConfig* tls, ConfigErrors* errors) {
  TlsSettings& s = tls->settings;
  if (const ConfigEntry* verify = Last(settings, "tls_verify")) {
    if (verify->value == "none") {
      s.verify = TlsVerify::kNone;
    } else if (verify->value == "optional") {
      s.verify = TlsVerify::kOptional;
    } else if (verify->value == "required") {
      s.verify = TlsVerify::kRequired;
    } else {
      errors->Add(*verify, "\"" + verify->value + "\" is not none, optional or required");
    }
  }
  const ConfigEntry* ca = Last(settings, "tls_client_ca");
  if (ca != nullptr && !ca->value.empty() && AbsolutePath(*ca, errors)) {
    tls->client_ca = ca->value;
    tls->client_ca_where = ca->where;
  }
  if (s.verify != TlsVerify::kNone && tls->client_ca.empty()) {
    errors->Add(*Last(settings, "tls_verify"),
                "needs tls_client_ca, the CAs that sign client "
                "certificates");
  } else if (s.verify == TlsVerify::kNone && !tls->client_ca.empty()) {
    errors->Add(*ca, "asks for no client certificate without tls_verify = optional or required");
  }
  if (const ConfigEntry* version = Last(settings, "tls_min_version")) {
    if (version->value == "1.2" || version->value == "TLSv1.2") {
      s.min_version = kTls12;
    } else if (version->value == "1.3" || version->value == "TLSv1.3") {
      s.min_version = kTls13;
    } else {
      errors->Add(*version, "\"" + version->value + "\" is not 1.2 or 1.3");
    }
  }
  if (const ConfigEntry* timeout = Last(settings, "tls_handshake_timeout")) {
    int seconds = 0;
    if (ParseBoundedInt(timeout->value, 1, kMaxTlsHandshakeTimeout, &seconds)) {
      s.handshake_timeout = static_cast<uint32_t>(seconds);
    } else {
      errors->Add(*timeout, "\"" + timeout->value + "\" is not a number from 1 to " +
                                std::to_string(kMaxTlsHandshakeTimeout));
    }
  }
  for (const ConfigEntry& entry : Entries(settings, "tls_alpn")) {
    size_t start = 0;
    while (start <= entry.value.size()) {
      size_t end = entry.value.find_first_of(", ", start);
      if (end == std::string::npos) end = entry.value.size();
      std::string protocol = entry.value.substr(start, end - start);
      start = end + 1;
      if (protocol.empty()) continue;
      if (protocol.size() > 255) {
        errors->Add(entry, "a protocol name is at most 255 bytes");
        break;
      }
      s.alpn.push_back(protocol);
    }
  }
  // Checked here, against OpenSSL itself, so that the error names the line.
  SSL_CTX* scratch = SSL_CTX_new(TLS_server_method());
  if (const ConfigEntry* ciphers = Last(settings, "tls_ciphers")) {
    if (SSL_CTX_set_cipher_list(scratch, ciphers->value.c_str()) == 1) {
      s.ciphers = ciphers->value;
    } else {
      errors->Add(*ciphers, "\"" + ciphers->value + "\" names no cipher OpenSSL knows");
    }
  }
  if (const ConfigEntry* suites = Last(settings, "tls_ciphersuites")) {
    if (SSL_CTX_set_ciphersuites(scratch, suites->value.c_str()) == 1) {
      s.ciphersuites = suites->value;
    } else {
      errors->Add(*suites, "\"" + suites->value + "\" is not a list of TLS 1.3 suites");
    }
  }
  SSL_CTX_free(scratch);
}

}  // namespace

void ResolveTls(const Settings& settings, ServiceConfig* service, ConfigErrors* errors) {
  if (Entries(settings, "tls_cert").empty() && Entries(settings, "tls_key").empty()) return;
  TlsConfig tls;
  ResolvePairs(settings, &tls, errors);
  if (tls.pairs.empty()) return;
  CheckMode(settings, *service, errors);
  ResolveSettings(settings, &tls, errors);
  service->tls = std::move(tls);
}

}  // namespace gatehouse
