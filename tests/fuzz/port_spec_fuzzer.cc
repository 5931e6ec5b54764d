// The `port` value parser (common/port_spec.h): any text, each default protocol
// and host. Property: a spec that parses prints (ToString) as text that parses
// back to the same spec, since --check shows that text and reloads compare by it.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/port_spec.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using gatehouse::Protocol;
  if (size < 1) return 0;
  // The first byte picks the service's `proto` and `host` keys.
  const Protocol protocols[] = {Protocol::kTcp, Protocol::kUdp, Protocol::kUnix};
  const char* hosts[] = {"*", "", "127.0.0.1", "::1"};
  Protocol protocol = protocols[data[0] % 3];
  std::string host = hosts[(data[0] / 3) % 4];
  std::string text(reinterpret_cast<const char*>(data + 1), size - 1);

  gatehouse::PortSpec spec;
  std::string error;
  if (!gatehouse::ParsePortSpec(text, host, protocol, &spec, &error)) {
    FUZZ_CHECK(!error.empty());
    return 0;
  }
  std::string shown = spec.ToString();
  gatehouse::PortSpec again;
  std::string again_error;
  FUZZ_CHECK(gatehouse::ParsePortSpec(shown, "*", Protocol::kTcp, &again, &again_error));
  FUZZ_CHECK(again.ToString() == shown);
  FUZZ_CHECK(again.protocol == spec.protocol && again.port == spec.port &&
             again.host == spec.host && again.path == spec.path &&
             again.socket_type == spec.socket_type);
  return 0;
}
