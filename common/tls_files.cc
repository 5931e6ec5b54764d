#include "common/tls_files.h"

#include <fcntl.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/config/trusted_path.h"
#include "common/sys_error.h"
#include "common/tls_context.h"
#include "common/unique_fd.h"

namespace gatehouse {
namespace {

bool ReadPemFile(const std::string& path, const std::string& where, const char* key,
                 std::string* contents, std::string* error) {
  std::string prefix = where + ": " + key + ": ";
  // Read as root and handed to the service: only root may be able to change the
  // file or a folder above it (a symlink, as certbot's live/, is judged where it
  // leads), and what is read is the entry that was judged.
  PathTrustFinding finding;
  UniqueFd judged = OpenTrustedPath(path, TrustedPathRule{}, &finding);
  if (!judged) {
    *error =
        prefix + DescribeFinding(finding) + (finding.error != 0 ? "" : TrustRuleReason("reads it"));
    return false;
  }
  UniqueFd fd(open(("/proc/self/fd/" + std::to_string(judged.get())).c_str(),
                   O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  struct stat info {};
  if (!fd || fstat(fd.get(), &info) != 0) {
    *error = prefix + ErrnoMessage("open", path, errno);
    return false;
  }
  if (!S_ISREG(info.st_mode)) {
    *error = prefix + path + " is not a regular file";
    return false;
  }
  contents->clear();
  char buffer[8192];
  ssize_t got;
  while ((got = read(fd.get(), buffer, sizeof buffer)) > 0) {
    contents->append(buffer, static_cast<size_t>(got));
    if (contents->size() > kMaxTlsPemBytes) {
      *error = prefix + path + " is larger than " + std::to_string(kMaxTlsPemBytes / 1024) + " KiB";
      return false;
    }
  }
  if (got < 0) {
    *error = prefix + ErrnoMessage("read", path, errno);
    return false;
  }
  return true;
}

// The first certificate of a PEM text, or nullptr.
X509* FirstCertificate(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return cert;
}

}  // namespace

bool ReadTlsMaterial(const TlsConfig& tls, TlsMaterial* material, std::string* error) {
  *material = TlsMaterial{};
  material->settings = tls.settings;
  size_t total = 0;
  for (const TlsCertKey& pair : tls.pairs) {
    std::string cert, key;
    if (!ReadPemFile(pair.cert, pair.cert_where, "tls_cert", &cert, error) ||
        !ReadPemFile(pair.key, pair.key_where, "tls_key", &key, error)) {
      return false;
    }
    total += cert.size() + key.size();
    material->pairs.emplace_back(std::move(cert), std::move(key));
  }
  if (!tls.client_ca.empty() && !ReadPemFile(tls.client_ca, tls.client_ca_where, "tls_client_ca",
                                             &material->client_ca, error)) {
    return false;
  }
  total += material->client_ca.size();
  if (total + 1024 > kMaxTlsMaterialPayload) {
    *error = tls.pairs.front().cert_where + ": tls_cert: the certificate and key files are " +
             std::to_string(total / 1024) + " KiB together, more than " +
             std::to_string(kMaxTlsMaterialPayload / 1024 - 1) + " KiB";
    return false;
  }
  return true;
}

void CheckTlsFiles(const TlsConfig& tls, std::vector<std::string>* errors,
                   std::vector<std::string>* warnings) {
  if (!tls.enabled()) return;
  TlsMaterial material;
  std::string error;
  if (!ReadTlsMaterial(tls, &material, &error)) {
    errors->push_back(error);
    return;
  }
  for (size_t i = 0; i < tls.pairs.size(); ++i) {
    const TlsCertKey& pair = tls.pairs[i];
    TlsMaterial one;
    one.settings = material.settings;
    one.client_ca = material.client_ca;
    one.pairs.push_back(material.pairs[i]);
    TlsContexts contexts;
    if (!contexts.Build(one, &error)) {
      // "certificate 1: " is the child's numbering; here the lines say which.
      size_t colon = error.find(": ");
      if (error.rfind("certificate ", 0) == 0 && colon != std::string::npos) {
        error = error.substr(colon + 2);
      }
      errors->push_back(pair.key_where + ": tls_key: " + pair.key + " with tls_cert " + pair.cert +
                        " (" + pair.cert_where + "): " + error);
      continue;
    }
    if (X509* cert = FirstCertificate(material.pairs[i].first)) {
      if (X509_cmp_current_time(X509_get0_notAfter(cert)) < 0) {
        warnings->push_back(pair.cert_where + ": tls_cert: " + pair.cert +
                            " has expired; clients will refuse it");
      }
      X509_free(cert);
    }
    struct stat info {};
    if (stat(pair.key.c_str(), &info) == 0 && (info.st_mode & S_IROTH) != 0) {
      warnings->push_back(pair.key_where + ": tls_key: " + pair.key +
                          " is readable by others; make it 0600 or 0640");
    }
  }
}

}  // namespace gatehouse
