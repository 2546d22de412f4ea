// Errors inside the template engine. They are C++ exceptions only within
// src/jinja: ChatTemplate catches every one and returns a Status.
#pragma once

#include <stdexcept>
#include <string>

namespace tf::jinja {

class JinjaError : public std::runtime_error {
 public:
  explicit JinjaError(const std::string& message) : std::runtime_error(message) {}
};

// raise_exception(...) from the template itself.
class TemplateRaised : public JinjaError {
 public:
  explicit TemplateRaised(const std::string& message) : JinjaError(message) {}
};

}  // namespace tf::jinja
