#include "common/tls_context.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

namespace gatehouse {
namespace {

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Deleter {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct KeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};

std::unique_ptr<BIO, BioDeleter> MemoryBio(const std::string& pem) {
  return std::unique_ptr<BIO, BioDeleter>(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// The leaf certificate, then the rest of the chain, from one PEM text.
bool UseCertificateChain(SSL_CTX* ctx, const std::string& pem, std::string* error) {
  auto bio = MemoryBio(pem);
  std::unique_ptr<X509, X509Deleter> leaf(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!leaf || SSL_CTX_use_certificate(ctx, leaf.get()) != 1) {
    *error = "no certificate: " + OpenSslError();
    return false;
  }
  while (X509* more = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    if (SSL_CTX_add0_chain_cert(ctx, more) != 1) {
      X509_free(more);
      *error = "chain: " + OpenSslError();
      return false;
    }
  }
  ERR_clear_error();  // the end of the PEM text
  return true;
}

bool UseKey(SSL_CTX* ctx, const std::string& pem, std::string* error) {
  auto bio = MemoryBio(pem);
  std::unique_ptr<EVP_PKEY, KeyDeleter> key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, const_cast<char*>("")));
  if (!key) {
    *error = "no private key (an encrypted key is not supported): " + OpenSslError();
    return false;
  }
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    *error = "the key does not match the certificate: " + OpenSslError();
    return false;
  }
  return true;
}

bool UseClientCa(SSL_CTX* ctx, const std::string& pem, TlsVerify verify, std::string* error) {
  if (pem.empty()) return true;
  auto bio = MemoryBio(pem);
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  STACK_OF(X509_NAME)* names = sk_X509_NAME_new_null();
  int count = 0;
  while (X509* ca = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    X509_STORE_add_cert(store, ca);
    sk_X509_NAME_push(names, X509_NAME_dup(X509_get_subject_name(ca)));
    X509_free(ca);
    ++count;
  }
  ERR_clear_error();
  if (count == 0) {
    sk_X509_NAME_pop_free(names, X509_NAME_free);
    *error = "tls_client_ca holds no certificate";
    return false;
  }
  SSL_CTX_set_client_CA_list(ctx, names);
  int mode = SSL_VERIFY_NONE;
  if (verify == TlsVerify::kOptional) mode = SSL_VERIFY_PEER;
  if (verify == TlsVerify::kRequired) mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  SSL_CTX_set_verify(ctx, mode, nullptr);
  return true;
}

}  // namespace

std::string OpenSslError() {
  unsigned long code = ERR_peek_last_error();
  ERR_clear_error();
  if (code == 0) return "unknown error";
  const char* reason = ERR_reason_error_string(code);
  return reason != nullptr ? reason : "error " + std::to_string(code);
}

bool TlsContexts::Build(const TlsMaterial& material, std::string* error) {
  OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG, nullptr);  // a chroot has no openssl.cnf
  contexts_.clear();
  settings_ = material.settings;
  alpn_wire_.clear();
  for (const std::string& protocol : settings_.alpn) {
    alpn_wire_ += static_cast<char>(protocol.size());
    alpn_wire_ += protocol;
  }
  for (size_t i = 0; i < material.pairs.size(); ++i) {
    std::string which = "certificate " + std::to_string(i + 1) + ": ";
    SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
    if (!ctx) {
      *error = "SSL_CTX_new: " + OpenSslError();
      return false;
    }
    SSL_CTX_set_min_proto_version(ctx.get(), settings_.min_version);
    // Renegotiation is TLS 1.2's old way of talking twice; nobody needs it here.
    SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx.get(),
                     SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    // Each relay is a process of its own: no shared session cache; tickets work
    // across them (the key is made here, before the fork).
    SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
    static const unsigned char kSessionContext[] = "gatehouse";
    SSL_CTX_set_session_id_context(ctx.get(), kSessionContext, sizeof kSessionContext - 1);
    if (!settings_.ciphers.empty() &&
        SSL_CTX_set_cipher_list(ctx.get(), settings_.ciphers.c_str()) != 1) {
      *error = "tls_ciphers \"" + settings_.ciphers + "\": " + OpenSslError();
      return false;
    }
    if (!settings_.ciphersuites.empty() &&
        SSL_CTX_set_ciphersuites(ctx.get(), settings_.ciphersuites.c_str()) != 1) {
      *error = "tls_ciphersuites \"" + settings_.ciphersuites + "\": " + OpenSslError();
      return false;
    }
    const auto& [cert, key] = material.pairs[i];
    std::string problem;
    if (!UseCertificateChain(ctx.get(), cert, &problem) || !UseKey(ctx.get(), key, &problem) ||
        !UseClientCa(ctx.get(), material.client_ca, settings_.verify, &problem)) {
      *error = which + problem;
      return false;
    }
    SSL_CTX_set_tlsext_servername_callback(ctx.get(), OnServerName);
    SSL_CTX_set_tlsext_servername_arg(ctx.get(), this);
    if (!alpn_wire_.empty()) SSL_CTX_set_alpn_select_cb(ctx.get(), OnAlpn, this);
    contexts_.push_back(std::move(ctx));
  }
  if (contexts_.empty()) {
    *error = "no certificate";
    return false;
  }
  return true;
}

// The first certificate whose names (subjectAltName, else CN) match the SNI name.
int TlsContexts::OnServerName(SSL* ssl, int*, void* self) {
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (name == nullptr) return SSL_TLSEXT_ERR_NOACK;
  auto* contexts = static_cast<TlsContexts*>(self);
  for (const SslCtxPtr& ctx : contexts->contexts_) {
    X509* cert = SSL_CTX_get0_certificate(ctx.get());
    if (cert != nullptr && X509_check_host(cert, name, 0, 0, nullptr) == 1) {
      if (ctx.get() != SSL_get_SSL_CTX(ssl)) SSL_set_SSL_CTX(ssl, ctx.get());
      return SSL_TLSEXT_ERR_OK;
    }
  }
  return SSL_TLSEXT_ERR_OK;  // the first one, as without SNI
}

int TlsContexts::OnAlpn(SSL*, const unsigned char** out, unsigned char* out_length,
                        const unsigned char* in, unsigned int in_length, void* self) {
  auto* contexts = static_cast<TlsContexts*>(self);
  const std::string& ours = contexts->alpn_wire_;
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(
          &selected, out_length, reinterpret_cast<const unsigned char*>(ours.data()),
          static_cast<unsigned int>(ours.size()), in, in_length) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_ALERT_FATAL;  // RFC 7301: no protocol in common
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace gatehouse
