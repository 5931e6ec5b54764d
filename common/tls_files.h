// A service's certificate and key files, read by the supervisor (which may read a
// root-only key) into the TlsMaterial its child gets, and checked for --check.
#pragma once

#include <string>
#include <vector>

#include "common/tls_config.h"

namespace gatehouse {

// Reads every file `tls` names. False with "file:line: tls_key: /path: reason".
bool ReadTlsMaterial(const TlsConfig& tls, TlsMaterial* material, std::string* error);

// Reads the files and builds the contexts the child would: a missing, bad or
// mismatched file is an error; an expired certificate and a key that others may
// read are warnings. Each names the file:line of its key.
void CheckTlsFiles(const TlsConfig& tls, std::vector<std::string>* errors,
                   std::vector<std::string>* warnings);

}  // namespace gatehouse
