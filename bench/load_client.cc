// load_client: a bounded load generator for the benchmarks. C threads each open
// a connection, send the request (none when empty; with --half-close 1 followed
// by shutdown(SHUT_WR), as an echo client ends), read to EOF, and repeat until
// the time is up. A connection counts when the reply holds --expect. With
// --tls 1 each connection is a new TLS 1.3 session (a full handshake, no
// resumption; the server is not verified: this measures it, not the client).
// Prints one line: connections/s, p50/p99 latency, failures, the server's CPU
// time per connection (utime+stime+cutime+cstime of --server-pid and its
// children, from /proc, before and after), and the reply bytes per second in MB.
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

double Now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// CPU ticks of one process: utime + stime + cutime + cstime.
long long ProcessTicks(int pid, int* parent) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::vector<std::string> f((std::istream_iterator<std::string>(fields)),
                             std::istream_iterator<std::string>());
  if (f.size() < 15) return 0;
  *parent = std::atoi(f[1].c_str());
  return std::atoll(f[11].c_str()) + std::atoll(f[12].c_str()) + std::atoll(f[13].c_str()) +
         std::atoll(f[14].c_str());
}

// The server and all its descendants (gatehouse: the supervisor, each service's
// gatehouse-child and, in a PID namespace, the init below it that does the
// serving; their cutime holds the reaped programs).
long long ServerTicks(int server) {
  if (server <= 0) return 0;
  std::map<int, std::pair<int, long long>> processes;  // pid -> parent, ticks
  DIR* proc = opendir("/proc");
  while (dirent* entry = readdir(proc)) {
    int pid = std::atoi(entry->d_name);
    if (pid <= 0) continue;
    int parent = 0;
    long long ticks = ProcessTicks(pid, &parent);
    processes[pid] = {parent, ticks};
  }
  closedir(proc);
  long long total = 0;
  for (const auto& [pid, process] : processes) {
    // Walk up to the server (bounded: the tree is at most a few levels here).
    int at = pid;
    for (int depth = 0; depth < 16 && at > 1 && at != server; ++depth) {
      auto found = processes.find(at);
      at = found == processes.end() ? 0 : found->second.first;
    }
    if (at == server) total += process.second;
  }
  return total;
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1", request = "GET / HTTP/1.0\r\n\r\n", expect = "200 OK";
  int port = 0, concurrency = 1, server_pid = 0, half_close = 0, sources = 1, tls = 0;
  double seconds = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string key = argv[i], value = argv[i + 1];
    if (key == "--host")
      host = value;
    else if (key == "--port")
      port = std::atoi(value.c_str());
    else if (key == "--concurrency")
      concurrency = std::atoi(value.c_str());
    else if (key == "--seconds")
      seconds = std::atof(value.c_str());
    else if (key == "--server-pid")
      server_pid = std::atoi(value.c_str());
    else if (key == "--expect")
      expect = value;
    else if (key == "--request")
      request = value;
    else if (key == "--half-close")
      half_close = std::atoi(value.c_str());
    else if (key == "--sources")
      sources = std::atoi(value.c_str());
    else if (key == "--tls")
      tls = std::atoi(value.c_str());
    else {
      fprintf(stderr, "load_client: unknown option %s\n", key.c_str());
      return 2;
    }
  }
  if (port <= 0 || concurrency < 1 || concurrency > 1024 || seconds <= 0 || seconds > 60 ||
      sources < 1 || sources > 254) {
    fprintf(stderr,
            "usage: load_client --port P [--concurrency 1..1024] [--seconds 0..60] "
            "[--server-pid PID] [--request TEXT] [--half-close 0|1] [--expect TEXT] "
            "[--sources 1..254] [--tls 0|1]\n");
    return 2;
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, host.c_str(), &address.sin_addr);

  SSL_CTX* tls_context = nullptr;
  if (tls) {
    tls_context = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(tls_context, TLS1_3_VERSION);
    SSL_CTX_set_session_cache_mode(tls_context, SSL_SESS_CACHE_OFF);
  }
  std::atomic<long> failures{0};
  std::atomic<long long> reply_bytes{0};
  std::mutex mutex;
  std::vector<double> latencies;
  long long ticks_before = ServerTicks(server_pid);
  double start = Now(), stop = start + seconds;
  std::atomic<unsigned> next_source{0};
  auto worker = [&] {
    std::vector<double> mine;
    char buffer[4096];
    while (Now() < stop) {
      double begin = Now();
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (sources > 1) {
        // A client that closes first keeps each port in TIME_WAIT, and connect()
        // finds about 14,000 reusable ports a second on one address (half the
        // ephemeral range): rotating over 127.0.0.1..N lifts that ceiling.
        int on = 1;
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on, sizeof on);
        sockaddr_in source{};
        source.sin_family = AF_INET;
        source.sin_addr.s_addr =
            htonl(0x7F000001u + static_cast<uint32_t>(next_source++ % sources));
        if (bind(fd, reinterpret_cast<sockaddr*>(&source), sizeof source) != 0) {
          std::perror("bind");
          std::exit(1);
        }
      }
      timeval timeout{10, 0};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
      bool ok = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
      SSL* ssl = nullptr;
      if (ok && tls) {
        ssl = SSL_new(tls_context);
        ok = SSL_set_fd(ssl, fd) == 1 && SSL_connect(ssl) == 1 &&
             (request.empty() || SSL_write(ssl, request.data(), static_cast<int>(request.size())) ==
                                     static_cast<int>(request.size())) &&
             (!half_close || SSL_shutdown(ssl) >= 0);
      } else if (ok) {
        ok = (request.empty() ||
              write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) &&
             (!half_close || shutdown(fd, SHUT_WR) == 0);
      }
      std::string reply;
      long long received = 0;
      ssize_t n;
      while (ok && (n = ssl != nullptr ? SSL_read(ssl, buffer, sizeof buffer)
                                       : read(fd, buffer, sizeof buffer)) > 0) {
        received += n;
        // A bulk reply is counted, not kept.
        if (reply.size() < 65536) reply.append(buffer, static_cast<size_t>(n));
      }
      reply_bytes += received;
      if (ssl != nullptr) SSL_free(ssl);
      close(fd);
      if (ok && reply.find(expect) != std::string::npos) {
        mine.push_back(Now() - begin);
      } else {
        failures++;
      }
    }
    std::lock_guard<std::mutex> lock(mutex);
    latencies.insert(latencies.end(), mine.begin(), mine.end());
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < concurrency; ++i) threads.emplace_back(worker);
  for (std::thread& t : threads) t.join();
  double elapsed = Now() - start;
  long long ticks = ServerTicks(server_pid) - ticks_before;

  std::sort(latencies.begin(), latencies.end());
  auto percentile = [&](double p) {
    if (latencies.empty()) return 0.0;
    return latencies[std::min(latencies.size() - 1, static_cast<size_t>(p * latencies.size()))] *
           1e3;
  };
  double per_conn_ms = latencies.empty() ? 0
                                         : 1e3 * static_cast<double>(ticks) / sysconf(_SC_CLK_TCK) /
                                               latencies.size();
  printf(
      "rate=%.0f p50_ms=%.2f p99_ms=%.2f conns=%zu failures=%ld cpu_ms_per_conn=%.3f "
      "mb_per_s=%.1f\n",
      static_cast<double>(latencies.size()) / elapsed, percentile(0.50), percentile(0.99),
      latencies.size(), failures.load(), per_conn_ms,
      static_cast<double>(reply_bytes.load()) / elapsed / 1e6);
  return 0;
}
