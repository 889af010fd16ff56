// extract_zip: unpacks a checked zip into a directory with the modes the guest needs.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace ember::host {

// Unpacks `zip`, which check_zip() accepted, into the existing directory `dir`. Files
// become 0755 when the zip gave them any execute bit and 0644 otherwise, directories 0755
// (the guest's runtime reads /var/task as an unprivileged user); symlinks are kept as
// links; modification times are kept. Never writes outside dir: paths with ".." and
// writes through symlinks are refused.
Status extract_zip(std::string_view zip, const std::string& dir);

}  // namespace ember::host
