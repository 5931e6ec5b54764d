// The passwd and group databases as the Resolve steps read them: a name, or a
// number written as the kernel prints it (no leading zeros), up to 4294967294.
#pragma once

#include <sys/types.h>

#include <string>

namespace gatehouse {

struct UserEntry {
  uid_t uid = 0;
  std::string name;
  bool has_primary_group = false;  // false for a uid without a passwd entry
  gid_t primary_gid = 0;
};

// `text` as a user: a passwd name, or a uid (which needs no passwd entry).
bool LookUpUser(const std::string& text, UserEntry* user, std::string* error);

// `text` as a group: a group name, or a gid (which needs no entry in /etc/group).
// `shown` is the group's name, or the number when it has none.
bool LookUpGroup(const std::string& text, gid_t* gid, std::string* shown, std::string* error);

}  // namespace gatehouse
