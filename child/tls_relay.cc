#include "child/tls_relay.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <set>

#include "common/default_signals.h"
#include "common/sys_error.h"

namespace gatehouse {
namespace {

constexpr size_t kBufferBytes = 16 * 1024;  // one TLS record
constexpr size_t kMaxValueBytes = 1024;

int64_t NowMs() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<int64_t>(now.tv_sec) * 1000 + now.tv_nsec / 1000000;
}

// Milliseconds until `deadline` for poll(): -1 for none (0), at least 0.
int PollTimeout(int64_t deadline) {
  if (deadline == 0) return -1;
  return static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(deadline - NowMs(), 60000)));
}

// Closes every fd but 2 (the child's stderr, for a bug's last words) and `keep`.
void CloseAllBut(int a, int b) {
  std::set<int> keep = {2, a, b};
  int from = 0;
  for (int fd : keep) {
    if (fd > from && syscall(SYS_close_range, from, fd - 1, 0) != 0) {
      for (int i = from; i < fd; ++i) close(i);
    }
    from = fd + 1;
  }
  if (syscall(SYS_close_range, from, ~0U, 0) != 0) {
    for (int i = from; i < 65536; ++i) close(i);
  }
}

// A certificate field as one line: control bytes shown as '?'.
std::string Printable(std::string text) {
  if (text.size() > kMaxValueBytes) text.resize(kMaxValueBytes);
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return text;
}

std::string NameLine(X509_NAME* name) {
  char* line = X509_NAME_oneline(name, nullptr, 0);
  std::string text = line != nullptr ? line : "";
  OPENSSL_free(line);
  return Printable(text);
}

std::string Sha256Hex(X509* cert) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (X509_digest(cert, EVP_sha256(), digest, &length) != 1) return "";
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex;
}

// The program's SSL_ variables, s6-tlsd's and stunnel's names.
std::string EnvironmentReport(SSL* ssl) {
  std::vector<std::string> env;
  env.push_back(std::string("SSL_PROTOCOL=") + SSL_get_version(ssl));
  env.push_back(std::string("SSL_CIPHER=") + SSL_CIPHER_get_name(SSL_get_current_cipher(ssl)));
  if (const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) {
    env.push_back("SSL_TLS_SNI_SERVERNAME=" + Printable(sni));
  }
  if (X509* peer = SSL_get0_peer_certificate(ssl)) {
    std::string subject = NameLine(X509_get_subject_name(peer));
    env.push_back("SSL_PEER_CERT_SUBJECT=" + subject);
    env.push_back("SSL_PEER_CERT_HASH=" + Sha256Hex(peer));
    env.push_back("SSL_CLIENT_DN=" + subject);
    env.push_back("SSL_CLIENT_I_DN=" + NameLine(X509_get_issuer_name(peer)));
  }
  std::string payload;
  for (const std::string& entry : env) {
    if (!payload.empty()) payload += '\0';
    payload += entry;
  }
  return payload;
}

bool WriteAll(int fd, const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t sent = send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (sent < 0 && errno == EAGAIN) {
      pollfd wait{fd, POLLOUT, 0};
      poll(&wait, 1, 1000);
      continue;
    }
    if (sent <= 0) return false;
    done += static_cast<size_t>(sent);
  }
  return true;
}

[[noreturn]] void Report(int fd, char kind, const std::string& payload) {
  std::string packet(1, kind);
  uint32_t length = static_cast<uint32_t>(payload.size());
  packet.append(reinterpret_cast<const char*>(&length), sizeof length);
  packet += payload;
  WriteAll(fd, packet);
  _exit(kind == 'R' ? 0 : 1);
}

// SSL_accept until done, the client gives up, or the deadline.
bool Handshake(SSL* ssl, int client, int64_t deadline, std::string* reason) {
  for (;;) {
    int result = SSL_accept(ssl);
    if (result == 1) return true;
    short wanted = 0;
    switch (SSL_get_error(ssl, result)) {
      case SSL_ERROR_WANT_READ:
        wanted = POLLIN;
        break;
      case SSL_ERROR_WANT_WRITE:
        wanted = POLLOUT;
        break;
      case SSL_ERROR_SYSCALL:
        *reason = ERR_peek_last_error() != 0 ? "TLS handshake: " + OpenSslError()
                                             : "client closed during the TLS handshake";
        return false;
      default:
        *reason = "TLS handshake: " + OpenSslError();
        return false;
    }
    pollfd wait{client, wanted, 0};
    int timeout = PollTimeout(deadline);
    if (timeout == 0 || poll(&wait, 1, timeout) == 0) {
      *reason = "TLS handshake timed out";
      return false;
    }
  }
}

// One connection's two directions after the handshake.
class Splice {
 public:
  Splice(SSL* ssl, int client, int program) : ssl_(ssl), client_(client), program_(program) {}

  void Run(int64_t deadline) {
    while (!Done()) {
      client_wait_ = 0;
      bool progress = ClientToProgram();
      progress = ProgramToClient() || progress;
      if (progress) continue;
      pollfd fds[2] = {{client_, client_wait_, 0}, {program_, 0, 0}};
      if (up_length_ > up_offset_) fds[1].events |= POLLOUT;
      if (!program_eof_ && down_length_ == 0) fds[1].events |= POLLIN;
      int timeout = PollTimeout(deadline);
      if (timeout == 0) return;  // the service's timeout
      if (poll(fds, 2, timeout) < 0 && errno != EINTR) return;
      // The program's side is closed altogether: nobody reads what the client sends.
      if (fds[1].revents & (POLLHUP | POLLERR)) program_gone_ = true;
      if (fds[0].revents & (POLLHUP | POLLERR) && client_wait_ == POLLOUT) client_broken_ = true;
    }
  }

 private:
  bool Done() const {
    bool up_done = up_shut_ || program_gone_ || client_broken_;
    bool down_done = close_notify_sent_ || client_broken_;
    return up_done && down_done;
  }

  // Waits on the client for what OpenSSL asked for.
  bool Blocked(int result) {
    switch (SSL_get_error(ssl_, result)) {
      case SSL_ERROR_WANT_READ:
        client_wait_ |= POLLIN;
        return true;
      case SSL_ERROR_WANT_WRITE:
        client_wait_ |= POLLOUT;
        return true;
      default:
        return false;
    }
  }

  bool ClientToProgram() {
    bool progress = false;
    if (!client_eof_ && !client_broken_ && !program_gone_ && up_length_ == 0) {
      int got = SSL_read(ssl_, up_, sizeof up_);
      if (got > 0) {
        up_length_ = static_cast<size_t>(got);
        up_offset_ = 0;
        progress = true;
      } else if (!Blocked(got)) {
        // close_notify is a clean end; a bare EOF or a reset ends the client too.
        if (SSL_get_error(ssl_, got) != SSL_ERROR_ZERO_RETURN) client_broken_ = true;
        client_eof_ = true;
        ERR_clear_error();
        progress = true;
      }
    }
    if (up_length_ > up_offset_ && !program_gone_) {
      ssize_t sent = send(program_, up_ + up_offset_, up_length_ - up_offset_, MSG_NOSIGNAL);
      if (sent > 0) {
        up_offset_ += static_cast<size_t>(sent);
        if (up_offset_ == up_length_) up_length_ = up_offset_ = 0;
        progress = true;
      } else if (errno != EAGAIN && errno != EINTR) {
        program_gone_ = true;
        progress = true;
      }
    }
    if (client_eof_ && up_length_ == 0 && !up_shut_) {
      shutdown(program_, SHUT_WR);  // the program reads EOF
      up_shut_ = true;
      progress = true;
    }
    return progress;
  }

  bool ProgramToClient() {
    bool progress = false;
    if (!program_eof_ && down_length_ == 0) {
      ssize_t got = recv(program_, down_, sizeof down_, 0);
      if (got > 0) {
        down_length_ = static_cast<size_t>(got);
        down_offset_ = 0;
        progress = true;
      } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
        program_eof_ = true;
        progress = true;
      }
    }
    if (down_length_ > down_offset_ && !client_broken_) {
      int sent =
          SSL_write(ssl_, down_ + down_offset_, static_cast<int>(down_length_ - down_offset_));
      if (sent > 0) {
        down_offset_ += static_cast<size_t>(sent);
        if (down_offset_ == down_length_) down_length_ = down_offset_ = 0;
        progress = true;
      } else if (!Blocked(sent)) {
        client_broken_ = true;
        progress = true;
      }
    }
    if (program_eof_ && down_length_ == 0 && !close_notify_sent_ && !client_broken_) {
      int result = SSL_shutdown(ssl_);  // our close_notify: the client reads EOF
      if (result >= 0 || !Blocked(result)) {
        close_notify_sent_ = true;
        shutdown(client_, SHUT_WR);
        progress = true;
      }
    }
    return progress;
  }

  SSL* ssl_;
  int client_;
  int program_;
  short client_wait_ = 0;
  char up_[kBufferBytes];  // client -> program
  size_t up_length_ = 0, up_offset_ = 0;
  char down_[kBufferBytes];  // program -> client
  size_t down_length_ = 0, down_offset_ = 0;
  bool client_eof_ = false;     // close_notify (or an end) read from the client
  bool client_broken_ = false;  // the client's side failed: nothing more either way
  bool up_shut_ = false;        // the program was given EOF
  bool program_eof_ = false;    // the program closed its output
  bool program_gone_ = false;   // nobody reads the program's end any more
  bool close_notify_sent_ = false;
};

[[noreturn]] void RunRelay(const TlsContexts& contexts, int client, int program,
                           uint32_t run_seconds) {
  DefaultSignals();
  signal(SIGPIPE, SIG_IGN);
  prctl(PR_SET_DUMPABLE, 0);  // its session keys: no ptrace, no /proc/PID/mem, even by its uid
  CloseAllBut(client, program);
  fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK);
  fcntl(program, F_SETFL, fcntl(program, F_GETFL) | O_NONBLOCK);
  int64_t handshake_deadline =
      NowMs() + static_cast<int64_t>(contexts.settings().handshake_timeout) * 1000;
  SSL* ssl = SSL_new(contexts.initial());
  std::string reason;
  if (ssl == nullptr || SSL_set_fd(ssl, client) != 1) Report(program, 'F', "SSL_new failed");
  if (!Handshake(ssl, client, handshake_deadline, &reason)) Report(program, 'F', reason);
  std::string env = EnvironmentReport(ssl);
  std::string packet(1, 'R');
  uint32_t length = static_cast<uint32_t>(env.size());
  packet.append(reinterpret_cast<const char*>(&length), sizeof length);
  if (!WriteAll(program, packet + env)) _exit(1);
  int64_t deadline = run_seconds == 0 ? 0 : NowMs() + static_cast<int64_t>(run_seconds) * 1000;
  static Splice splice(ssl, client, program);  // 32 KiB of buffers: not on the stack
  splice.Run(deadline);
  _exit(0);
}

}  // namespace

pid_t StartTlsRelay(const TlsContexts& contexts, int client_fd, uint32_t run_seconds,
                    UniqueFd* program_end, std::string* error) {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    *error = ErrnoMessage("socketpair", "TLS relay", errno);
    return -1;
  }
  UniqueFd ours(pair[0]), relays(pair[1]);
  pid_t pid = fork();
  if (pid < 0) {
    *error = ErrnoMessage("fork", "TLS relay", errno);
    return -1;
  }
  if (pid == 0) RunRelay(contexts, client_fd, relays.get(), run_seconds);
  *program_end = std::move(ours);
  return pid;
}

bool ParseTlsEnvironment(const std::string& payload, std::vector<std::string>* env,
                         std::string* error) {
  env->clear();
  std::set<std::string> seen;
  size_t start = 0;
  while (start < payload.size()) {
    size_t end = payload.find('\0', start);
    if (end == std::string::npos) end = payload.size();
    std::string entry = payload.substr(start, end - start);
    start = end + 1;
    std::string name = entry.substr(0, entry.find('='));
    bool known = std::any_of(std::begin(kTlsEnvNames), std::end(kTlsEnvNames),
                             [&](const char* allowed) { return name == allowed; });
    if (!known || name.size() == entry.size() || !seen.insert(name).second) {
      *error = "TLS relay reported an unexpected variable";
      return false;
    }
    for (char c : entry) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
        *error = "TLS relay reported a control byte in " + name;
        return false;
      }
    }
    env->push_back(std::move(entry));
  }
  return true;
}

}  // namespace gatehouse
