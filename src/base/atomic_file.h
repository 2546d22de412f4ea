// Writes a file so that a reader sees its old content or its new content,
// never half of either: the bytes go to a temporary name beside it (unique
// per process and call, `<path>.tmp.<pid>.<n>`), which is renamed over
// `path` once complete. On any failure the temporary is removed and `path`
// is left as it was.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace tf {

// Receives the file's bytes in order, one chunk per call.
using ByteSink = std::function<Status(std::string_view chunk)>;

// `produce` writes the whole content through the sink it is given.
Status WriteFileAtomically(const std::string& path, const std::function<Status(const ByteSink&)>& produce);
Status WriteFileAtomically(const std::string& path, std::string_view bytes);

}  // namespace tf
