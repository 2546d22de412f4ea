#include "jinja/chat_template.h"

#include <ctime>

#include <fmt/format.h>

#include "jinja/builtins.h"
#include "jinja/error.h"
#include "jinja/interpreter.h"
#include "jinja/template_parser.h"
#include "jinja/value_format.h"

namespace tf {
namespace {

std::tm ParseNow(const std::string& iso) {
  std::tm tm{};
  if (iso.empty()) {
    const std::time_t t = std::time(nullptr);
    localtime_r(&t, &tm);
    return tm;
  }
  int y = 1970, mo = 1, d = 1, h = 0, mi = 0, s = 0;
  std::sscanf(iso.c_str(), "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &s);
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  std::mktime(&tm);  // fills in the weekday and day of the year
  tm.tm_hour = h;    // (mktime may shift for DST; keep the given clock time)
  return tm;
}

}  // namespace

ChatTemplate::ChatTemplate() = default;
ChatTemplate::~ChatTemplate() = default;

StatusOr<std::unique_ptr<ChatTemplate>> ChatTemplate::Parse(const std::string& source) {
  auto t = std::unique_ptr<ChatTemplate>(new ChatTemplate());
  try {
    t->program_ = jinja::ParseTemplate(source);
  } catch (const jinja::JinjaError& e) {
    return InvalidArgumentError(fmt::format("chat template: {}", e.what()));
  }
  return t;
}

StatusOr<std::string> ChatTemplate::Render(const ChatTemplateInputs& in) const {
  using jinja::Value;
  try {
    Value globals = Value::MakeDict();
    jinja::Dict& g = globals.AsDict();
    jinja::AddGlobalFunctions(&g);
    g.Set("messages", jinja::FromJson(in.messages));
    g.Set("tools", jinja::FromJson(in.tools));
    g.Set("add_generation_prompt", Value::Bool(in.add_generation_prompt));
    g.Set("bos_token", Value::String(in.bos_token));
    g.Set("eos_token", Value::String(in.eos_token));
    if (in.extra.is_object()) {
      for (auto it = in.extra.begin(); it != in.extra.end(); ++it) g.Set(it.key(), jinja::FromJson(it.value()));
    }
    const std::tm now = ParseNow(in.now);
    g.Set("strftime_now", Value::Callable("strftime_now", [now](jinja::CallArgs& a) {
      const std::string format = a.positional.empty() ? "" : jinja::PyStr(a.positional[0]);
      char buf[512];
      const size_t n = std::strftime(buf, sizeof(buf), format.c_str(), &now);
      return Value::String(std::string(buf, n));
    }));
    jinja::Interpreter interpreter(program_, globals);
    return interpreter.Render();
  } catch (const jinja::JinjaError& e) {
    return InvalidArgumentError(fmt::format("chat template: {}", e.what()));
  } catch (const std::exception& e) {
    return InternalError(fmt::format("chat template: {}", e.what()));
  }
}

}  // namespace tf
