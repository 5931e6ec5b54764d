// The PROXY protocol header parser (common/proxy_header.h), the one parser of
// client bytes on the privileged side. The first byte picks the accepted
// versions. Properties: a parsed header lies within the input and its bounds; a
// verdict does not change when bytes after the header are added; every shorter
// prefix of a parsed header only asks for more (never a different verdict); a
// parsed v1 line holds nothing but printable US-ASCII before its CRLF.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/proxy_header.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using gatehouse::ProxyHeader;
  if (size < 1) return 0;
  gatehouse::ProxyVersions accepted{(data[0] & 1) != 0, (data[0] & 2) != 0};
  if (!accepted.v1 && !accepted.v2) accepted.v1 = accepted.v2 = true;
  const uint8_t* bytes = data + 1;
  size_t length = size - 1;

  ProxyHeader header = gatehouse::ParseProxyHeader(bytes, length, accepted);
  if (header.outcome == ProxyHeader::kInvalid) FUZZ_CHECK(!header.reason.empty());
  if (header.outcome == ProxyHeader::kNeedMore) {
    FUZZ_CHECK(length < gatehouse::kProxyHeaderMaxBytes);
    return 0;
  }
  if (header.outcome != ProxyHeader::kParsed) return 0;
  FUZZ_CHECK(header.length > 0 && header.length <= length);
  FUZZ_CHECK(header.length <= gatehouse::kProxyHeaderMaxBytes);
  FUZZ_CHECK(header.version == 1 || header.version == 2);
  if (header.version == 1) {
    // The spec's grammar: printable US-ASCII up to the CRLF, nothing else.
    for (size_t i = 0; i + 2 < header.length; ++i) FUZZ_CHECK(bytes[i] >= 0x20 && bytes[i] <= 0x7E);
    FUZZ_CHECK(bytes[header.length - 2] == '\r' && bytes[header.length - 1] == '\n');
  }
  // The header alone gives the same verdict, and its prefixes ask for more.
  ProxyHeader alone = gatehouse::ParseProxyHeader(bytes, header.length, accepted);
  FUZZ_CHECK(alone.outcome == ProxyHeader::kParsed && alone.length == header.length);
  for (size_t cut = 0; cut < header.length; cut += 1 + header.length / 16) {
    ProxyHeader prefix = gatehouse::ParseProxyHeader(bytes, cut, accepted);
    FUZZ_CHECK(prefix.outcome == ProxyHeader::kNeedMore);
  }
  return 0;
}
