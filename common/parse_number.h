// Checked decimal parsing for configuration values: digits only, no sign, no
// wrap-around and no exceptions (std::stoul wraps "4294967296" into a uid_t and
// throws on "99999999999999999999999").
#pragma once

#include <cstdint>
#include <string>

namespace gatehouse {

// True when `text` is 1-20 ASCII digits whose value is at most `max`.
bool ParseDecimal(const std::string& text, uint64_t max, uint64_t* value);

// True when `text` is 1-9 digits (no sign) within [min, max].
bool ParseBoundedInt(const std::string& text, int min, int max, int* value);

}  // namespace gatehouse
