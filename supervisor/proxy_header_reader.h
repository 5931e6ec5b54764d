// Reading a connection's PROXY header on the privileged side: the one place the
// supervisor reads client bytes. ProxyHeaderReader takes a connection's header
// as its bytes arrive, never blocking and never taking a byte past the header;
// PendingHeaderSlot bounds how many connections may wait for theirs.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "common/proxy_header.h"
#include "common/socket_address.h"

namespace gatehouse {

class ProxyHeaderReader {
 public:
  explicit ProxyHeaderReader(ProxyVersions accepted) : accepted_(accepted) {}

  // Reads what the non-blocking socket `fd` has: peeks, asks the parser, and
  // receives only the bytes the parser counts as the header's. kNeedMore: call
  // again when it is readable. kParsed: header() is complete and the socket's
  // next byte is the program's. kInvalid: header().reason says why (a malformed
  // header, the client gone, a socket error).
  ProxyHeader::Outcome ReadAvailable(int fd);
  const ProxyHeader& header() const { return header_; }
  size_t bytes_read() const { return have_; }
  // The client closed without sending a byte: a port scan or a connect flood.
  bool left_silently() const { return left_silently_; }

 private:
  ProxyVersions accepted_;
  std::array<uint8_t, kProxyHeaderMaxBytes> buffer_{};
  size_t have_ = 0;
  bool left_silently_ = false;
  ProxyHeader header_;
};

// A place among the connections waiting for their PROXY header, counted for the
// whole supervisor: at most kPerSource from one peer (IPv6 peers grouped by /64,
// one site's usual allocation) and total() in all, so a client that opens
// connections and sends nothing cannot take the supervisor's fds. Released when
// destroyed.
class PendingHeaderSlot {
 public:
  static constexpr int kPerSource = 64;
  // The bound for all: 1,024 unless set at start from the fd budget (SharedPoolBound).
  static int total();
  static void SetTotal(int total);

  // A slot for a connection from `peer`, or nothing with `why` when over a bound.
  static std::optional<PendingHeaderSlot> Take(const SocketAddress& peer, std::string* why);

  PendingHeaderSlot(PendingHeaderSlot&& other) noexcept;
  PendingHeaderSlot& operator=(PendingHeaderSlot&&) = delete;
  PendingHeaderSlot(const PendingHeaderSlot&) = delete;
  ~PendingHeaderSlot();

 private:
  explicit PendingHeaderSlot(std::string source) : source_(std::move(source)) {}
  std::string source_;
  bool owned_ = true;  // false once moved from
};

}  // namespace gatehouse
