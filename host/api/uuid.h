// random_uuid: RFC 4122 version 4 UUIDs for request and revision ids.
#pragma once

#include <string>

namespace ember::host {

// "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" from getrandom(2), lower-case hex.
std::string random_uuid();

}  // namespace ember::host
