// TLS on real connections: a CA, server and client certificates made in the
// test with the openssl command; openssl s_client, curl and an OpenSSL client of
// the test's own (which holds a connection open across a reload) against
// gatehouse on 127.0.0.1. The program sees plain text and the SSL_ variables;
// SNI picks the certificate; client certificates required and optional; a
// renewed certificate is served after HUP while an old connection runs on; a
// stalled handshake is cut; each connection's relay is a process of its own,
// unprivileged and unreadable; PROXY header first, then the handshake; --check
// findings.
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <string>
#include <vector>

#include "common/monotonic_clock.h"
#include "tests/integration/harness.h"

namespace gatehouse::testing {
namespace {

// Runs the openssl command; fails the test when it fails.
void Openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  CommandResult result = RunCommand(argv, "", 30);
  ASSERT_EQ(result.exit_code, 0) << result.err;
}

// A CA and certificates it signs, ECDSA P-256, in `dir`.
class TestCa {
 public:
  explicit TestCa(const std::string& dir) : dir_(dir) {
    Openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", dir_ + "/ca.key", "-out", ca(), "-days", "30", "-subj",
             "/CN=gatehouse test CA"});
  }
  std::string ca() const { return dir_ + "/ca.pem"; }
  // Makes NAME.pem and NAME.key (mode 0600) for `subject`, valid for `alt_names`.
  void Issue(const std::string& name, const std::string& subject, const std::string& alt_names,
             const std::string& days = "30") const {
    std::string base = dir_ + "/" + name;
    Openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
             base + ".key", "-out", base + ".csr", "-subj", subject});
    std::string ext = base + ".ext";
    FILE* file = fopen(ext.c_str(), "w");
    ASSERT_NE(file, nullptr);
    fprintf(file, "subjectAltName=%s\n", alt_names.c_str());
    fclose(file);
    std::vector<std::string> args = {"x509",
                                     "-req",
                                     "-in",
                                     base + ".csr",
                                     "-CA",
                                     ca(),
                                     "-CAkey",
                                     dir_ + "/ca.key",
                                     "-CAcreateserial",
                                     "-out",
                                     base + ".pem",
                                     "-extfile",
                                     ext};
    args.insert(args.end(), {"-days", days});  // "-1": expired yesterday
    Openssl(args);
    chmod((base + ".key").c_str(), 0600);
  }

 private:
  std::string dir_;
};

// An OpenSSL client of the test's own on a connected socket: blocking, bounded by
// the socket's 10 s timeouts (ConnectTcp).
class TlsClient {
 public:
  TlsClient() = default;
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;
  ~TlsClient() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
    if (fd_ >= 0) close(fd_);
  }
  // Takes `fd` and shakes hands, verifying the server against `ca` (and `sni`,
  // sent when not empty); with `cert`/`key`, shows that client certificate.
  bool Handshake(int fd, const std::string& ca, const std::string& sni,
                 const std::string& cert = "", const std::string& key = "") {
    fd_ = fd;
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_load_verify_locations(ctx_, ca.c_str(), nullptr);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    if (!cert.empty()) {
      SSL_CTX_use_certificate_chain_file(ctx_, cert.c_str());
      SSL_CTX_use_PrivateKey_file(ctx_, key.c_str(), SSL_FILETYPE_PEM);
    }
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    if (!sni.empty()) SSL_set_tlsext_host_name(ssl_, sni.c_str());
    if (!alpn_.empty()) {
      SSL_set_alpn_protos(ssl_, reinterpret_cast<const unsigned char*>(alpn_.data()),
                          static_cast<unsigned int>(alpn_.size()));
    }
    bool done = SSL_connect(ssl_) == 1;
    if (!done) error_ = ERR_reason_error_string(ERR_peek_last_error()) ?: "closed";
    ERR_clear_error();
    return done;
  }
  // ALPN protocols to offer, before Handshake.
  void OfferAlpn(const std::vector<std::string>& protocols) {
    for (const std::string& protocol : protocols)
      alpn_ += static_cast<char>(protocol.size()) + protocol;
  }
  // The protocol the server selected ("" for none).
  std::string SelectedAlpn() const {
    const unsigned char* selected = nullptr;
    unsigned int length = 0;
    SSL_get0_alpn_selected(ssl_, &selected, &length);
    return std::string(reinterpret_cast<const char*>(selected), length);
  }
  // The server certificate's subject ("/O=v1/CN=a.test").
  std::string PeerSubject() const {
    X509* peer = SSL_get0_peer_certificate(ssl_);
    if (peer == nullptr) return "";
    char* line = X509_NAME_oneline(X509_get_subject_name(peer), nullptr, 0);
    std::string subject = line;
    OPENSSL_free(line);
    return subject;
  }
  bool Write(const std::string& text) {
    return SSL_write(ssl_, text.data(), static_cast<int>(text.size())) ==
           static_cast<int>(text.size());
  }
  // Reads until `stop` has come, the server's close_notify, or the timeout.
  std::string ReadUntil(const std::string& stop) {
    std::string got;
    char buffer[4096];
    while (got.find(stop) == std::string::npos) {
      int n = SSL_read(ssl_, buffer, sizeof buffer);
      if (n <= 0) {
        closed_ = SSL_get_error(ssl_, n) == SSL_ERROR_ZERO_RETURN;
        break;
      }
      got.append(buffer, static_cast<size_t>(n));
    }
    ERR_clear_error();
    return got;
  }
  // Sends close_notify (the program reads EOF).
  void CloseWrite() { SSL_shutdown(ssl_); }
  bool closed() const { return closed_; }
  const std::string& error() const { return error_; }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string error_;
  std::string alpn_;     // offered, in ALPN's wire form
  bool closed_ = false;  // close_notify read
};

// The program of most tests: its first line back with the SSL_ variables.
const char* kShowTls =
    "exec = /bin/sh\n"
    "args = -c 'read line; echo \"$line|$SSL_PROTOCOL|$SSL_CIPHER|$SSL_TLS_SNI_SERVERNAME|"
    "$SSL_CLIENT_DN|$SSL_CLIENT_I_DN|$SSL_PEER_CERT_SUBJECT|$SSL_PEER_CERT_HASH|$TCPREMOTEIP\"'\n";

class TlsTest : public GatehouseTest {
 protected:
  void SetUp() override {
    ca_ = std::make_unique<TestCa>(dir_.path());
    ca_->Issue("a", "/O=v1/CN=a.test", "DNS:a.test,IP:127.0.0.1");
    ca_->Issue("b", "/CN=b.test", "DNS:b.test");
    ca_->Issue("client", "/CN=client one", "DNS:client.test");
  }
  std::string File(const std::string& name) const { return dir_.path() + "/" + name; }
  std::string Pair(const std::string& name) const {
    return "tls_cert = " + File(name + ".pem") + "\ntls_key = " + File(name + ".key") + "\n";
  }
  // openssl s_client: sends `input`, returns what the program answered.
  CommandResult SClient(int port, const std::string& input,
                        const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {"openssl",
                                     "s_client",
                                     "-connect",
                                     "127.0.0.1:" + std::to_string(port),
                                     "-CAfile",
                                     ca_->ca(),
                                     "-verify_return_error",
                                     "-quiet"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunCommand(argv, input, 15);
  }

  std::unique_ptr<TestCa> ca_;
};

TEST_F(TlsTest, ProgramSeesPlainTextAndTheTlsEnvironment) {
  ASSERT_TRUE(
      Start("log_level = 3\n",
            {{"show.conf", "[show]\nport = 127.0.0.1:0\n" + std::string(kShowTls) + Pair("a")},
             {"web.conf",
              "[web]\nport = 127.0.0.1:0\nexec = /bin/sh\n"
              "args = -c 'read request; printf \"HTTP/1.0 200 OK\\r\\n\\r\\n%s %s\\n\" "
              "\"$SSL_PROTOCOL\" \"$SSL_TLS_SNI_SERVERNAME\"'\n" +
                  Pair("a")}}));
  CommandResult s_client = SClient(Port("show"), "hello over tls\n", {"-servername", "a.test"});
  EXPECT_NE(s_client.out.find("hello over tls|TLSv1.3|TLS_AES_256_GCM_SHA384|a.test||||"
                              "|127.0.0.1"),
            std::string::npos)
      << s_client.out << s_client.err << gatehouse_->Log();

  // curl checks the certificate against its name, as a browser would.
  std::string url = "https://a.test:" + std::to_string(Port("web")) + "/";
  CommandResult curl =
      RunCommand({"curl", "-sS", "--max-time", "10", "--cacert", ca_->ca(), "--resolve",
                  "a.test:" + std::to_string(Port("web")) + ":127.0.0.1", url});
  EXPECT_EQ(curl.exit_code, 0) << curl.err;
  EXPECT_EQ(curl.out, "TLSv1.3 a.test\n") << curl.err;
  // Plain text on the TLS port gets no program.
  int plain = ConnectTcp("127.0.0.1", Port("web"));
  ASSERT_GE(plain, 0);
  ASSERT_EQ(write(plain, "GET / HTTP/1.0\r\n\r\n", 18), 18);
  EXPECT_EQ(ReadUntil(plain, "HTTP/1.0 200"), "");
  close(plain);
  EXPECT_TRUE(gatehouse_->WaitForLog("TLS handshake: "));
}

TEST_F(TlsTest, SniPicksTheCertificateTheFirstOtherwise) {
  ASSERT_TRUE(Start("", {{"show.conf", "[show]\nport = 127.0.0.1:0\n" + std::string(kShowTls) +
                                           Pair("a") + Pair("b")}}));
  for (const auto& [sni, subject] :
       std::vector<std::pair<std::string, std::string>>{{"b.test", "/CN=b.test"},
                                                        {"a.test", "/O=v1/CN=a.test"},
                                                        {"", "/O=v1/CN=a.test"},
                                                        {"other.test", "/O=v1/CN=a.test"}}) {
    TlsClient client;
    ASSERT_TRUE(client.Handshake(ConnectTcp("127.0.0.1", Port("show")), ca_->ca(), sni))
        << sni << ": " << client.error();
    EXPECT_EQ(client.PeerSubject(), subject) << sni;
    ASSERT_TRUE(client.Write("x\n"));
    EXPECT_NE(client.ReadUntil("\n").find("x|TLSv1.3|"), std::string::npos);
  }
  // curl checks the name: b.test's certificate must come for b.test.
  int port = Port("show");
  CommandResult curl =
      RunCommand({"curl", "-sS", "--max-time", "10", "--http0.9", "--cacert", ca_->ca(),
                  "--resolve", "b.test:" + std::to_string(port) + ":127.0.0.1",
                  "https://b.test:" + std::to_string(port) + "/"});
  EXPECT_EQ(curl.exit_code, 0) << curl.err;
  EXPECT_NE(curl.out.find("|b.test|"), std::string::npos) << curl.out;
}

std::string Sha256Fingerprint(const std::string& pem) {
  CommandResult result =
      RunCommand({"openssl", "x509", "-in", pem, "-noout", "-fingerprint", "-sha256"});
  std::string hex;
  for (char c : result.out.substr(result.out.find('=') + 1)) {
    if (std::isxdigit(static_cast<unsigned char>(c))) {
      hex += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  return hex;
}

TEST_F(TlsTest, ClientCertificateRequired) {
  ASSERT_TRUE(
      Start("log_level = 3\n",
            {{"show.conf", "[show]\nport = 127.0.0.1:0\n" + std::string(kShowTls) + Pair("a") +
                               "tls_client_ca = " + ca_->ca() + "\ntls_verify = required\n"}}));
  TlsClient with;
  ASSERT_TRUE(with.Handshake(ConnectTcp("127.0.0.1", Port("show")), ca_->ca(), "a.test",
                             File("client.pem"), File("client.key")))
      << with.error();
  ASSERT_TRUE(with.Write("mine\n"));
  std::string line = with.ReadUntil("\n");
  std::string subject = "/CN=client one", issuer = "/CN=gatehouse test CA";
  EXPECT_NE(line.find("mine|TLSv1.3|TLS_AES_256_GCM_SHA384|a.test|" + subject + "|" + issuer + "|" +
                      subject + "|" + Sha256Fingerprint(File("client.pem")) + "|"),
            std::string::npos)
      << line;

  // Without one the handshake fails and no program starts.
  gatehouse::testing::LogMark mark = gatehouse_->MarkLog();
  CommandResult without = SClient(Port("show"), "nobody\n", {"-servername", "a.test"});
  EXPECT_EQ(without.out.find("nobody|"), std::string::npos) << without.out;
  EXPECT_TRUE(gatehouse_->WaitForLog("peer did not return a certificate", mark))
      << gatehouse_->Log(mark);
  EXPECT_EQ(gatehouse_->Log(mark).find("show: start"), std::string::npos);
}

TEST_F(TlsTest, ClientCertificateOptional) {
  ASSERT_TRUE(
      Start("", {{"show.conf", "[show]\nport = 127.0.0.1:0\n" + std::string(kShowTls) + Pair("a") +
                                   "tls_client_ca = " + ca_->ca() + "\ntls_verify = optional\n"}}));
  CommandResult without = SClient(Port("show"), "anonymous\n");
  EXPECT_NE(without.out.find("anonymous|TLSv1.3|TLS_AES_256_GCM_SHA384||||||127.0.0.1"),
            std::string::npos)
      << without.out << without.err;
  CommandResult with =
      SClient(Port("show"), "known\n", {"-cert", File("client.pem"), "-key", File("client.key")});
  EXPECT_NE(with.out.find("known|TLSv1.3|TLS_AES_256_GCM_SHA384||/CN=client one|"),
            std::string::npos)
      << with.out << with.err;
}

// A renewed certificate is served after HUP although the config is the same; the
// connection made before keeps its own, and no new child is started.
TEST_F(TlsTest, RenewedCertificateServedAfterHupOldConnectionRunsOn) {
  ASSERT_TRUE(Start("log_level = 3\n",
                    {{"cat.conf", "[cat]\nport = 127.0.0.1:0\nexec = /bin/cat\n" + Pair("a")}}));
  TlsClient old;
  ASSERT_TRUE(old.Handshake(ConnectTcp("127.0.0.1", Port("cat")), ca_->ca(), "a.test"))
      << old.error();
  EXPECT_EQ(old.PeerSubject(), "/O=v1/CN=a.test");
  ASSERT_TRUE(old.Write("before\n"));
  EXPECT_EQ(old.ReadUntil("\n"), "before\n");

  // Renewed in place, as certbot does: new files over the old names.
  ca_->Issue("renewed", "/O=v2/CN=a.test", "DNS:a.test,IP:127.0.0.1");
  ASSERT_EQ(rename(File("renewed.pem").c_str(), File("a.pem").c_str()), 0);
  ASSERT_EQ(rename(File("renewed.key").c_str(), File("a.key").c_str()), 0);
  LogMark mark = gatehouse_->MarkLog();
  kill(gatehouse_->pid(), SIGHUP);
  ASSERT_TRUE(gatehouse_->WaitForLog("reloaded: ", mark)) << gatehouse_->Log(mark);
  EXPECT_EQ(gatehouse_->Log(mark).find("cat: changed"), std::string::npos) << gatehouse_->Log(mark);

  // The child reads the message after the HUP's: poll new connections until v2 shows.
  std::string served;
  ASSERT_TRUE(WaitUntil([&] {
    TlsClient fresh;
    if (!fresh.Handshake(ConnectTcp("127.0.0.1", Port("cat")), ca_->ca(), "a.test")) return false;
    served = fresh.PeerSubject();
    return served == "/O=v2/CN=a.test";
  })) << served;
  ASSERT_TRUE(old.Write("after\n"));
  EXPECT_EQ(old.ReadUntil("\n"), "after\n");
  EXPECT_EQ(old.PeerSubject(), "/O=v1/CN=a.test");
  EXPECT_EQ(Count(gatehouse_->Log(), "cat: ready"), 1u) << gatehouse_->Log();
}

TEST_F(TlsTest, StalledHandshakeIsCut) {
  ASSERT_TRUE(
      Start("log_level = 3\n", {{"cat.conf", "[cat]\nport = 127.0.0.1:0\nexec = /bin/cat\n" +
                                                 Pair("a") + "tls_handshake_timeout = 1\n"}}));
  int stalled = ConnectTcp("127.0.0.1", Port("cat"));
  ASSERT_GE(stalled, 0);
  ASSERT_EQ(write(stalled, "\x16\x03\x01", 3), 3);  // the start of a ClientHello, then nothing
  double start = MonotonicSeconds();
  char byte;
  EXPECT_LE(read(stalled, &byte, 1), 0);  // closed (the socket's own timeout is 10 s)
  EXPECT_LT(MonotonicSeconds() - start, 8);
  close(stalled);
  EXPECT_TRUE(gatehouse_->WaitForLog("TLS handshake timed out")) << gatehouse_->Log();
  EXPECT_EQ(gatehouse_->Log().find("cat: start"), std::string::npos);
}

// Two connections, two relays: separate processes of the service's uid with no
// capabilities, which that uid cannot read (not dumpable), unlike its programs.
TEST_F(TlsTest, EachConnectionHasItsOwnUnprivilegedRelay) {
  if (!IsRoot()) GTEST_SKIP() << "needs root (a service uid of its own)";
  ASSERT_TRUE(Start("log_level = 3\n",
                    {{"cat.conf", "[cat]\nport = 127.0.0.1:0\nexec = /bin/cat\n" + Pair("a")}}));
  std::string uid = CheckedUid(config_);
  ASSERT_FALSE(uid.empty());
  TlsClient first, second;
  ASSERT_TRUE(first.Handshake(ConnectTcp("127.0.0.1", Port("cat")), ca_->ca(), "a.test"));
  ASSERT_TRUE(second.Handshake(ConnectTcp("127.0.0.1", Port("cat")), ca_->ca(), "a.test"));
  for (TlsClient* client : {&first, &second}) {
    ASSERT_TRUE(client->Write("ping\n"));
    ASSERT_EQ(client->ReadUntil("\n"), "ping\n");
  }
  pid_t program_one = ProgramPid(*gatehouse_, first.fd(), "cat");
  pid_t program_two = ProgramPid(*gatehouse_, second.fd(), "cat");
  ASSERT_GT(program_one, 0);
  ASSERT_GT(program_two, 0);
  // The relays are the serving child's other children (its namespace's keeper aside).
  pid_t serving = ParentPid(program_one);
  pid_t keeper = KeeperOf(serving);
  std::vector<pid_t> relays;
  for (pid_t pid : ChildPids(serving)) {
    if (pid != program_one && pid != program_two && pid != keeper) relays.push_back(pid);
  }
  ASSERT_EQ(relays.size(), 2u) << "children of " << serving;
  EXPECT_NE(relays[0], relays[1]);
  std::string ids = uid + "\t" + uid + "\t" + uid + "\t" + uid;
  for (pid_t relay : relays) {
    EXPECT_EQ(ProcStatusField(relay, "Uid"), ids);
    for (const char* caps : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}) {
      EXPECT_EQ(ProcStatusField(relay, caps), "0000000000000000") << caps;
    }
    // Not dumpable: its /proc files are root's, and its uid cannot read its memory.
    struct stat info {};
    ASSERT_EQ(stat(("/proc/" + std::to_string(relay) + "/environ").c_str(), &info), 0);
    EXPECT_EQ(info.st_uid, 0u);
    CommandResult peek =
        RunCommand({"setpriv", "--reuid=" + uid, "--regid=" + uid, "--clear-groups", "cat",
                    "/proc/" + std::to_string(relay) + "/environ"});
    EXPECT_NE(peek.exit_code, 0) << "relay " << relay << " readable by its uid";
  }
  // The same uid reads a program's (the check itself works).
  CommandResult program =
      RunCommand({"setpriv", "--reuid=" + uid, "--regid=" + uid, "--clear-groups", "cat",
                  "/proc/" + std::to_string(program_one) + "/environ"});
  EXPECT_EQ(program.exit_code, 0) << program.err;
  EXPECT_NE(program.out.find("SSL_PROTOCOL=TLSv1.3"), std::string::npos);
}

// Half-close both ways and bulk data with back-pressure: the client's
// close_notify is the program's EOF, and the program's end is the client's.
TEST_F(TlsTest, BulkDataAndHalfClose) {
  ASSERT_TRUE(Start(
      "", {{"wc.conf", "[wc]\nport = 127.0.0.1:0\nexec = /usr/bin/wc\nargs = -c\n" + Pair("a")}}));
  TlsClient client;
  ASSERT_TRUE(client.Handshake(ConnectTcp("127.0.0.1", Port("wc")), ca_->ca(), "a.test"));
  std::string chunk(64 * 1024, 'z');
  for (int i = 0; i < 64; ++i) ASSERT_TRUE(client.Write(chunk));  // 4 MiB
  client.CloseWrite();
  EXPECT_EQ(client.ReadUntil("\n"), std::to_string(64 * 64 * 1024) + "\n");
  client.ReadUntil("never");
  EXPECT_TRUE(client.closed());  // close_notify after the program's output ended
}

// Back-pressure: a client that stops reading stops the program (its writes
// block), the relay holding one buffer, not the program's endless output.
uint64_t BytesWritten(pid_t pid) {
  std::string io = ReadFile("/proc/" + std::to_string(pid) + "/io");
  size_t at = io.find("wchar: ");
  return at == std::string::npos ? 0 : std::stoull(io.substr(at + 7));
}

TEST_F(TlsTest, AClientThatDoesNotReadStopsTheProgram) {
  ASSERT_TRUE(
      Start("log_level = 3\n",
            {{"yes.conf", "[yes]\nport = 127.0.0.1:0\nexec = /usr/bin/yes\n" + Pair("a")}}));
  TlsClient client;
  ASSERT_TRUE(client.Handshake(ConnectTcp("127.0.0.1", Port("yes")), ca_->ca(), "a.test"));
  EXPECT_EQ(client.ReadUntil("y\n").substr(0, 2), "y\n");  // it runs; now nothing is read
  pid_t program = ProgramPid(*gatehouse_, client.fd(), "yes");
  ASSERT_GT(program, 0);
  // Stable over 300 ms: its writes block. At most 30 samples (about 10 s).
  uint64_t last = BytesWritten(program);
  bool stable = false;
  for (int sample = 0; sample < 30 && !stable; ++sample) {
    usleep(300 * 1000);
    uint64_t now = BytesWritten(program);
    stable = now == last;
    last = now;
  }
  ASSERT_TRUE(stable) << "the program kept writing: " << last << " bytes";
  // What the kernel's socket buffers hold, and the relay's 16 KiB.
  EXPECT_GT(last, 0u);
  EXPECT_LT(last, 32u << 20);
}

// HAProxy's order: the PROXY header, then the handshake.
TEST_F(TlsTest, ProxyHeaderThenHandshake) {
  ASSERT_TRUE(
      Start("", {{"show.conf", "[show]\nport = 127.0.0.1:0\n" + std::string(kShowTls) + Pair("a") +
                                   "proxy_protocol = v1\nproxy_from = 127.0.0.0/8\n"}}));
  int fd = ConnectTcp("127.0.0.1", Port("show"));
  ASSERT_GE(fd, 0);
  std::string header = "PROXY TCP4 192.0.2.7 127.0.0.1 40000 443\r\n";
  ASSERT_EQ(write(fd, header.data(), header.size()), static_cast<ssize_t>(header.size()));
  TlsClient client;
  ASSERT_TRUE(client.Handshake(fd, ca_->ca(), "a.test")) << client.error();
  ASSERT_TRUE(client.Write("proxied\n"));
  EXPECT_NE(client.ReadUntil("\n").find("proxied|TLSv1.3|"), std::string::npos);
  // (the last field is TCPREMOTEIP: the header's client)
  TlsClient again;
  int fd2 = ConnectTcp("127.0.0.1", Port("show"));
  ASSERT_EQ(write(fd2, header.data(), header.size()), static_cast<ssize_t>(header.size()));
  ASSERT_TRUE(again.Handshake(fd2, ca_->ca(), "a.test"));
  ASSERT_TRUE(again.Write("x\n"));
  std::string line = again.ReadUntil("\n");
  EXPECT_EQ(line.substr(line.rfind('|') + 1), "192.0.2.7\n");
}

// The banner comes after the handshake, through the relay, before the program's bytes.
TEST_F(TlsTest, BannerComesEncryptedAfterTheHandshake) {
  ASSERT_TRUE(Start("", {{"cat.conf",
                          "[cat]\nport = 127.0.0.1:0\nexec = /bin/cat\n"
                          "banner = welcome\n" +
                              Pair("a")}}));
  TlsClient client;
  ASSERT_TRUE(client.Handshake(ConnectTcp("127.0.0.1", Port("cat")), ca_->ca(), "a.test"))
      << client.error();
  ASSERT_TRUE(client.Write("then this\n"));
  EXPECT_EQ(client.ReadUntil("this\n"), "welcomethen this\n");
}

// Built-ins over TCP get a relay in front of the child's loop.
TEST_F(TlsTest, BuiltinEchoOverTls) {
  ASSERT_TRUE(Start("", {{"echo.conf",
                          "[echo]\nport = 127.0.0.1:0\nmode = builtin\n"
                          "builtin = echo\n" +
                              Pair("a")}}));
  TlsClient client;
  ASSERT_TRUE(client.Handshake(ConnectTcp("127.0.0.1", Port("echo")), ca_->ca(), "a.test"))
      << client.error();
  ASSERT_TRUE(client.Write("echoed through the relay\n"));
  EXPECT_EQ(client.ReadUntil("\n"), "echoed through the relay\n");
}

// tls_alpn: the server's preference among what the client offers; none in
// common is a fatal alert (RFC 7301).
TEST_F(TlsTest, AlpnPicksAProtocolBothSpeak) {
  ASSERT_TRUE(Start("", {{"show.conf", "[show]\nport = 127.0.0.1:0\n" + std::string(kShowTls) +
                                           Pair("a") + "tls_alpn = x-first, x-second\n"}}));
  TlsClient both;
  both.OfferAlpn({"x-second", "x-first"});
  ASSERT_TRUE(both.Handshake(ConnectTcp("127.0.0.1", Port("show")), ca_->ca(), "a.test"));
  EXPECT_EQ(both.SelectedAlpn(), "x-first");
  TlsClient none;
  none.OfferAlpn({"x-other"});
  EXPECT_FALSE(none.Handshake(ConnectTcp("127.0.0.1", Port("show")), ca_->ca(), "a.test"));
  EXPECT_EQ(none.error(), "tlsv1 alert no application protocol");
}

// A certificate that no longer loads is a refused reload: the old one is still served.
TEST_F(TlsTest, BrokenCertificateRefusesTheReload) {
  ASSERT_TRUE(
      Start("", {{"cat.conf", "[cat]\nport = 127.0.0.1:0\nexec = /bin/cat\n" + Pair("a")}}));
  dir_.Write("a.pem", "-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n");
  LogMark mark = gatehouse_->MarkLog();
  kill(gatehouse_->pid(), SIGHUP);
  ASSERT_TRUE(gatehouse_->WaitForLog("reload refused", mark)) << gatehouse_->Log(mark);
  EXPECT_NE(gatehouse_->Log(mark).find("tls_key: "), std::string::npos) << gatehouse_->Log(mark);
  TlsClient client;
  ASSERT_TRUE(client.Handshake(ConnectTcp("127.0.0.1", Port("cat")), ca_->ca(), "a.test"));
  EXPECT_EQ(client.PeerSubject(), "/O=v1/CN=a.test");
}

// A child restarted after its files went bad is not given them (nor started):
// a TLS service never serves plain text.
TEST_F(TlsTest, RestartedChildGetsNoBrokenCertificateAndServesNoPlainText) {
  ASSERT_TRUE(Start("log_level = 3\n",
                    {{"cat.conf", "[cat]\nport = 127.0.0.1:0\nexec = /bin/cat\n" + Pair("a")}}));
  std::string log = gatehouse_->Log();
  size_t at = log.find("cat: ready (child pid ");
  ASSERT_NE(at, std::string::npos) << log;
  pid_t child = std::stoi(log.substr(at + 22));
  dir_.Write("a.pem", "-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n");
  LogMark mark = gatehouse_->MarkLog();
  ASSERT_EQ(kill(child, SIGKILL), 0);
  ASSERT_TRUE(gatehouse_->WaitForLog("its child keeps the certificates it has", mark))
      << gatehouse_->Log(mark);
  int plain = ConnectTcp("127.0.0.1", Port("cat"));
  ASSERT_GE(plain, 0);
  ASSERT_EQ(write(plain, "in the clear\n", 13), 13);
  EXPECT_EQ(ReadUntil(plain, "clear"), "");
  close(plain);
}

// `timeout` keeps its wall-clock meaning: the program is ended, and its relay
// ends the connection with close_notify.
TEST_F(TlsTest, ServiceTimeoutEndsTheConnection) {
  ASSERT_TRUE(Start("", {{"cat.conf",
                          "[cat]\nport = 127.0.0.1:0\nexec = /bin/cat\ntimeout = 1\n"
                          "kill_grace = 1\n" +
                              Pair("a")}}));
  TlsClient client;
  ASSERT_TRUE(client.Handshake(ConnectTcp("127.0.0.1", Port("cat")), ca_->ca(), "a.test"));
  double start = MonotonicSeconds();
  client.ReadUntil("never");  // nothing is sent; the socket's own timeout is 10 s
  EXPECT_TRUE(client.closed());
  EXPECT_LT(MonotonicSeconds() - start, 8);
}

// --check: what is wrong names file:line and key; what is risky is a warning.
class TlsCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_ = std::make_unique<TestCa>(dir_.path());
    ca_->Issue("a", "/CN=a.test", "DNS:a.test");
    ca_->Issue("b", "/CN=b.test", "DNS:b.test");
  }
  CommandResult Check(const std::string& service) {
    std::string main = WriteConfig(dir_, "", {{"svc.conf", service}});
    return RunCommand({Gatehouse(), "--config", main, "--check"});
  }
  std::string File(const std::string& name) const { return dir_.path() + "/" + name; }

  TempDir dir_;
  std::unique_ptr<TestCa> ca_;
};

TEST_F(TlsCheckTest, MismatchedKeyIsAnErrorWithFileAndLine) {
  CommandResult result =
      Check("[svc]\nport = 127.0.0.1:0\nexec = /bin/cat\ntls_cert = " + File("a.pem") +
            "\ntls_key = " + File("b.key") + "\n");
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(
      result.err.find("svc.conf:5: tls_key: " + File("b.key") + " with tls_cert " + File("a.pem")),
      std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find("does not match"), std::string::npos) << result.err;
}

TEST_F(TlsCheckTest, BadFilesAndModesAreErrors) {
  std::string garbage = File("garbage.pem");
  FILE* file = fopen(garbage.c_str(), "w");
  fputs("not a certificate\n", file);
  fclose(file);
  CommandResult bad = Check("[svc]\nport = 127.0.0.1:0\nexec = /bin/cat\ntls_cert = " + garbage +
                            "\ntls_key = " + File("a.key") + "\n");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("svc.conf:5: tls_key: "), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("no certificate"), std::string::npos) << bad.err;

  CommandResult unpaired =
      Check("[svc]\nport = 127.0.0.1:0\nexec = /bin/cat\ntls_cert = " + File("a.pem") +
            "\ntls_cert = " + File("b.pem") + "\ntls_key = " + File("a.key") + "\n");
  EXPECT_NE(unpaired.err.find("svc.conf:5: tls_cert: each tls_cert needs a tls_key"),
            std::string::npos)
      << unpaired.err;

  CommandResult udp = Check(
      "[svc]\nport = 127.0.0.1:0/udp\nmode = datagram\nexec = /bin/cat\n"
      "tls_cert = " +
      File("a.pem") + "\ntls_key = " + File("a.key") + "\n");
  EXPECT_NE(udp.err.find("svc.conf:5: tls_cert: TLS needs a stream"), std::string::npos) << udp.err;
  CommandResult wait = Check(
      "[svc]\nport = 127.0.0.1:0\nmode = wait\nexec = /bin/cat\n"
      "tls_cert = " +
      File("a.pem") + "\ntls_key = " + File("a.key") + "\n");
  EXPECT_NE(wait.err.find("svc.conf:5: tls_cert: mode = wait"), std::string::npos) << wait.err;

  CommandResult verify =
      Check("[svc]\nport = 127.0.0.1:0\nexec = /bin/cat\ntls_cert = " + File("a.pem") +
            "\ntls_key = " + File("a.key") + "\ntls_verify = sometimes\ntls_min_version = 1.1\n");
  EXPECT_NE(verify.err.find("svc.conf:6: tls_verify: \"sometimes\" is not none, optional or "
                            "required"),
            std::string::npos)
      << verify.err;
  EXPECT_NE(verify.err.find("svc.conf:7: tls_min_version: \"1.1\" is not 1.2 or 1.3"),
            std::string::npos)
      << verify.err;
  CommandResult env = Check("[svc]\nport = 127.0.0.1:0\nexec = /bin/cat\nenv = SSL_CLIENT_DN=x\n");
  EXPECT_NE(
      env.err.find("svc.conf:4: env: SSL_CLIENT_DN is set by gatehouse for every TLS connection"),
      std::string::npos)
      << env.err;
}

// Read as root and handed to the service: a key in a folder another user can
// change (who could swap in another service's root-readable key) is refused,
// and a symlink is judged where it leads (certbot's live/ folder is links).
TEST_F(TlsCheckTest, KeyFilesOthersCouldSwapAreRefused) {
  if (!IsRoot()) GTEST_SKIP() << "needs root (files of another user)";
  std::string theirs = File("theirs");
  ASSERT_EQ(mkdir(theirs.c_str(), 0755), 0);
  ASSERT_EQ(rename(File("a.key").c_str(), (theirs + "/a.key").c_str()), 0);
  ASSERT_EQ(chown(theirs.c_str(), 65534, 65534), 0);
  CommandResult refused =
      Check("[svc]\nport = 127.0.0.1:0\nexec = /bin/cat\ntls_cert = " + File("a.pem") +
            "\ntls_key = " + theirs + "/a.key\n");
  EXPECT_NE(refused.exit_code, 0) << refused.out;
  EXPECT_NE(refused.err.find("svc.conf:5: tls_key: " + theirs + ": owned by nobody (uid 65534)"),
            std::string::npos)
      << refused.err;
  ASSERT_EQ(symlink((theirs + "/a.key").c_str(), File("link.key").c_str()), 0);
  CommandResult linked =
      Check("[svc]\nport = 127.0.0.1:0\nexec = /bin/cat\ntls_cert = " + File("a.pem") +
            "\ntls_key = " + File("link.key") + "\n");
  EXPECT_NE(linked.exit_code, 0) << linked.out;
  EXPECT_NE(linked.err.find(theirs + ": owned by nobody"), std::string::npos) << linked.err;
  // Back in a trusted folder, behind a link, it is accepted.
  ASSERT_EQ(chown(theirs.c_str(), 0, 0), 0);
  CommandResult accepted =
      Check("[svc]\nport = 127.0.0.1:0\nexec = /bin/cat\ntls_cert = " + File("a.pem") +
            "\ntls_key = " + File("link.key") + "\n");
  EXPECT_EQ(accepted.exit_code, 0) << accepted.err;
}

TEST_F(TlsCheckTest, KeyReadableByOthersAndExpiredCertificateAreWarnings) {
  chmod(File("a.key").c_str(), 0644);
  CommandResult open =
      Check("[svc]\nport = 127.0.0.1:0\nexec = /bin/cat\ntls_cert = " + File("a.pem") +
            "\ntls_key = " + File("a.key") + "\n");
  EXPECT_EQ(open.exit_code, 0) << open.err;
  EXPECT_NE((open.out + open.err)
                .find("svc.conf:5: tls_key: " + File("a.key") + " is readable by others"),
            std::string::npos)
      << open.out << open.err;

  // Expired: a certificate whose validity ended yesterday.
  ca_->Issue("old", "/CN=old.test", "DNS:old.test", "-1");
  CommandResult expired =
      Check("[svc]\nport = 127.0.0.1:0\nexec = /bin/cat\ntls_cert = " + File("old.pem") +
            "\ntls_key = " + File("old.key") + "\n");
  EXPECT_EQ(expired.exit_code, 0) << expired.err;
  EXPECT_NE(
      (expired.out + expired.err).find("svc.conf:4: tls_cert: " + File("old.pem") + " has expired"),
      std::string::npos)
      << expired.out << expired.err;
}

}  // namespace
}  // namespace gatehouse::testing
