// The PROXY protocol header (HAProxy's spec, versions 1 and 2) that a load
// balancer puts before a connection's own bytes to name the real client. A pure
// parser: bytes in, a verdict out; no I/O. It is the one parser of client bytes on
// the privileged side, so every length is bounded and checked before it is used.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/socket_address.h"

namespace gatehouse {

// The spec's bounds: a v1 line is at most 107 bytes with its CRLF; a v2 header
// is 16 bytes and a length, which gatehouse bounds to 4 KiB (addresses and TLVs).
inline constexpr size_t kProxyV1MaxBytes = 107;
inline constexpr size_t kProxyV2FixedBytes = 16;
inline constexpr size_t kProxyV2MaxPayload = 4096;
inline constexpr size_t kProxyHeaderMaxBytes = kProxyV2FixedBytes + kProxyV2MaxPayload;

struct ProxyVersions {
  bool v1 = false;
  bool v2 = false;
};

struct ProxyHeader {
  enum Outcome {
    kNeedMore,  // no complete header yet: every byte given belongs to the header
    kInvalid,   // not a header of an accepted version, or malformed: `reason` says why
    kParsed,    // the header is the first `length` bytes
  };
  Outcome outcome = kNeedMore;
  std::string reason;
  size_t length = 0;
  int version = 0;  // 1 or 2 once known
  // False for v1 UNKNOWN, v2 LOCAL and v2 address families gatehouse does not
  // take (UNSPEC, UNIX, datagram): the connection's own addresses stand.
  bool has_addresses = false;
  // v2 LOCAL and v1 UNKNOWN: the proxy's own connection (a health check), not a
  // client's.
  bool local = false;
  SocketAddress source;       // the client
  SocketAddress destination;  // where the client connected (the proxy's side)
};

// Parses the header at the start of `data`. kNeedMore means a longer prefix of
// the same stream is needed; it is never returned once `size` reaches a bound.
// TLVs after the v2 addresses are checked to fit and otherwise skipped.
ProxyHeader ParseProxyHeader(const uint8_t* data, size_t size, ProxyVersions accepted);

}  // namespace gatehouse
