// sbx_user1051: the unprivileged user the function's runtime and handler run as (Lambda's name).
#pragma once

#include <sys/types.h>

namespace ember::agent {

// The same numbers are written into the root image's /etc/passwd and /etc/group by
// scripts/build-rootfs; change both together.
inline constexpr const char* kSandboxUserName = "sbx_user1051";
inline constexpr uid_t kSandboxUid = 993;
inline constexpr gid_t kSandboxGid = 993;

// A uid and gid a child process takes on (see SpawnSpec::drop_to).
struct Credentials {
  uid_t uid = 0;
  gid_t gid = 0;
};

inline Credentials sandbox_credentials() { return Credentials{kSandboxUid, kSandboxGid}; }

}  // namespace ember::agent
