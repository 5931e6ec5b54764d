// OpenSSL server contexts built from a service's TlsMaterial: one SSL_CTX per
// certificate, the first the default, the others chosen by the client's SNI. The
// child builds them for its relays; --check builds them to prove the files work.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <vector>

#include "common/tls_config.h"

namespace gatehouse {

struct SslCtxDeleter {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;

class TlsContexts {
 public:
  // False with a message naming the pair ("certificate 2: key does not match").
  bool Build(const TlsMaterial& material, std::string* error);
  // The context a new connection starts with (it switches on SNI by itself).
  SSL_CTX* initial() const { return contexts_.empty() ? nullptr : contexts_.front().get(); }
  const TlsSettings& settings() const { return settings_; }

 private:
  static int OnServerName(SSL* ssl, int* alert, void* self);
  static int OnAlpn(SSL* ssl, const unsigned char** out, unsigned char* out_length,
                    const unsigned char* in, unsigned int in_length, void* self);

  std::vector<SslCtxPtr> contexts_;
  std::string alpn_wire_;  // tls_alpn as length-prefixed protocol names
  TlsSettings settings_;
};

// The newest OpenSSL error as text ("key values mismatch"), and the queue cleared.
std::string OpenSslError();

}  // namespace gatehouse
