#include "jinja/builtins.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>
#include <utf8proc.h>

#include "base/utf8.h"
#include "jinja/error.h"
#include "jinja/interpreter.h"
#include "jinja/value_format.h"

namespace tf::jinja {
namespace {

[[noreturn]] void Fail(const std::string& what) { throw JinjaError(what); }

const std::string& NeedString(const Value& v, const char* what) {
  if (!v.is_string()) Fail(fmt::format("{} expects a string, got '{}'", what, KindName(v.kind())));
  return v.AsString();
}

bool IsPySpace(uint32_t cp) {
  return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F) || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

std::vector<std::pair<uint32_t, std::string>> Chars(const std::string& s) {
  std::vector<std::pair<uint32_t, std::string>> out;
  for (size_t pos = 0; pos < s.size();) {
    const DecodedCodepoint d = DecodeUtf8(s, pos);
    out.emplace_back(d.codepoint, s.substr(pos, d.length));
    pos += d.length;
  }
  return out;
}

// str.strip family: `chars` None strips whitespace.
std::string Strip(const std::string& s, const Value& chars, bool left, bool right) {
  const auto cs = Chars(s);
  std::set<uint32_t> set;
  const bool ws = chars.is_none() || chars.is_undefined();
  if (!ws) {
    for (const auto& c : Chars(NeedString(chars, "strip"))) set.insert(c.first);
  }
  auto strip_it = [&](uint32_t cp) { return ws ? IsPySpace(cp) : set.count(cp) != 0; };
  size_t b = 0, e = cs.size();
  if (left) {
    while (b < e && strip_it(cs[b].first)) ++b;
  }
  if (right) {
    while (e > b && strip_it(cs[e - 1].first)) --e;
  }
  std::string out;
  for (size_t i = b; i < e; ++i) out += cs[i].second;
  return out;
}

std::string MapCase(const std::string& s, bool upper) {
  std::string out;
  for (const auto& [cp, text] : Chars(s)) {
    AppendUtf8(static_cast<uint32_t>(upper ? utf8proc_toupper(static_cast<utf8proc_int32_t>(cp))
                                           : utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))),
               &out);
  }
  return out;
}

std::string Title(const std::string& s) {
  std::string out;
  bool prev_cased = false;
  for (const auto& [cp, text] : Chars(s)) {
    const auto c = static_cast<utf8proc_int32_t>(cp);
    const bool cased = utf8proc_tolower(c) != c || utf8proc_toupper(c) != c;
    AppendUtf8(static_cast<uint32_t>(cased ? (prev_cased ? utf8proc_tolower(c) : utf8proc_toupper(c)) : c), &out);
    prev_cased = cased;
  }
  return out;
}

List Split(const std::string& s, const Value& sep, int64_t maxsplit) {
  List out;
  if (sep.is_none() || sep.is_undefined()) {  // runs of whitespace, no empty parts
    const auto cs = Chars(s);
    std::string cur;
    bool in_word = false;
    int64_t splits = 0;
    for (size_t i = 0; i < cs.size(); ++i) {
      if (IsPySpace(cs[i].first) && (maxsplit < 0 || splits < maxsplit)) {
        if (in_word) {
          out.push_back(Value::String(cur));
          cur.clear();
          in_word = false;
          ++splits;
        }
      } else {
        if (!in_word && maxsplit >= 0 && splits >= maxsplit) {
          std::string rest;
          for (size_t k = i; k < cs.size(); ++k) rest += cs[k].second;
          out.push_back(Value::String(Strip(rest, Value::None(), false, true)));
          return out;
        }
        cur += cs[i].second;
        in_word = true;
      }
    }
    if (in_word) out.push_back(Value::String(cur));
    return out;
  }
  const std::string& d = NeedString(sep, "split");
  if (d.empty()) Fail("empty separator");
  size_t pos = 0;
  int64_t splits = 0;
  while (maxsplit < 0 || splits < maxsplit) {
    const size_t next = s.find(d, pos);
    if (next == std::string::npos) break;
    out.push_back(Value::String(s.substr(pos, next - pos)));
    pos = next + d.size();
    ++splits;
  }
  out.push_back(Value::String(s.substr(pos)));
  return out;
}

std::string Replace(const std::string& s, const std::string& old, const std::string& rep, int64_t count) {
  if (old.empty()) {
    std::string out;
    int64_t n = 0;
    for (const auto& [cp, text] : Chars(s)) {
      if (count < 0 || n < count) {
        out += rep;
        ++n;
      }
      out += text;
    }
    if (count < 0 || n < count) out += rep;
    return out;
  }
  std::string out;
  size_t pos = 0;
  int64_t n = 0;
  while (count < 0 || n < count) {
    const size_t next = s.find(old, pos);
    if (next == std::string::npos) break;
    out += s.substr(pos, next - pos) + rep;
    pos = next + old.size();
    ++n;
  }
  return out + s.substr(pos);
}

bool StartsOrEnds(const std::string& s, const Value& affix, bool starts) {
  auto one = [&](const std::string& a) {
    if (a.size() > s.size()) return false;
    return starts ? s.compare(0, a.size(), a) == 0 : s.compare(s.size() - a.size(), a.size(), a) == 0;
  };
  if (affix.is_list()) {
    for (const Value& v : affix.AsList()) {
      if (one(NeedString(v, starts ? "startswith" : "endswith"))) return true;
    }
    return false;
  }
  return one(NeedString(affix, starts ? "startswith" : "endswith"));
}

Value StringMethod(const std::string& s, const std::string& name) {
  auto bind = [&](auto fn) { return Value::Callable("str." + name, [s, fn](CallArgs& a) { return fn(s, a); }); };
  if (name == "strip") return bind([](const std::string& s, CallArgs& a) { return Value::String(Strip(s, Arg(a, 0, "chars", Value::None()), true, true)); });
  if (name == "lstrip") return bind([](const std::string& s, CallArgs& a) { return Value::String(Strip(s, Arg(a, 0, "chars", Value::None()), true, false)); });
  if (name == "rstrip") return bind([](const std::string& s, CallArgs& a) { return Value::String(Strip(s, Arg(a, 0, "chars", Value::None()), false, true)); });
  if (name == "split") {
    return bind([](const std::string& s, CallArgs& a) {
      return Value::MakeList(Split(s, Arg(a, 0, "sep", Value::None()), Arg(a, 1, "maxsplit", Value::Int(-1)).AsInt()));
    });
  }
  if (name == "startswith") return bind([](const std::string& s, CallArgs& a) { return Value::Bool(StartsOrEnds(s, Arg(a, 0, "prefix"), true)); });
  if (name == "endswith") return bind([](const std::string& s, CallArgs& a) { return Value::Bool(StartsOrEnds(s, Arg(a, 0, "suffix"), false)); });
  if (name == "replace") {
    return bind([](const std::string& s, CallArgs& a) {
      return Value::String(Replace(s, NeedString(Arg(a, 0, "old"), "replace"), NeedString(Arg(a, 1, "new"), "replace"),
                                   Arg(a, 2, "count", Value::Int(-1)).AsInt()));
    });
  }
  if (name == "upper") return bind([](const std::string& s, CallArgs&) { return Value::String(MapCase(s, true)); });
  if (name == "lower") return bind([](const std::string& s, CallArgs&) { return Value::String(MapCase(s, false)); });
  if (name == "title") return bind([](const std::string& s, CallArgs&) { return Value::String(Title(s)); });
  if (name == "capitalize") {
    return bind([](const std::string& s, CallArgs&) {
      const std::string lower = MapCase(s, false);
      if (lower.empty()) return Value::String("");
      const DecodedCodepoint d = DecodeUtf8(lower, 0);
      return Value::String(MapCase(lower.substr(0, d.length), true) + lower.substr(d.length));
    });
  }
  if (name == "find") {
    return bind([](const std::string& s, CallArgs& a) {
      const size_t p = s.find(NeedString(Arg(a, 0, "sub"), "find"));
      if (p == std::string::npos) return Value::Int(-1);
      return Value::Int(static_cast<int64_t>(Chars(s.substr(0, p)).size()));
    });
  }
  if (name == "count") {
    return bind([](const std::string& s, CallArgs& a) {
      const std::string& sub = NeedString(Arg(a, 0, "sub"), "count");
      if (sub.empty()) return Value::Int(static_cast<int64_t>(Chars(s).size()) + 1);
      int64_t n = 0;
      for (size_t p = s.find(sub); p != std::string::npos; p = s.find(sub, p + sub.size())) ++n;
      return Value::Int(n);
    });
  }
  if (name == "join") {
    return bind([](const std::string& s, CallArgs& a) {
      std::string out;
      bool first = true;
      for (const Value& v : Iterate(Arg(a, 0, "iterable"))) {
        if (!first) out += s;
        first = false;
        out += NeedString(v, "join");
      }
      return Value::String(out);
    });
  }
  if (name == "isdigit") {
    return bind([](const std::string& s, CallArgs&) {
      return Value::Bool(!s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }));
    });
  }
  if (name == "format") {
    return bind([](const std::string& s, CallArgs& a) {
      // "{}" / "{0}" / "{name}" placeholders.
      std::string out;
      size_t next_auto = 0;
      for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '{' && i + 1 < s.size() && s[i + 1] == '{') {
          out += '{';
          ++i;
        } else if (s[i] == '}' && i + 1 < s.size() && s[i + 1] == '}') {
          out += '}';
          ++i;
        } else if (s[i] == '{') {
          const size_t close = s.find('}', i);
          if (close == std::string::npos) Fail("format: unmatched '{'");
          const std::string field = s.substr(i + 1, close - i - 1);
          Value v;
          if (field.empty()) v = Arg(a, next_auto++, "");
          else if (std::isdigit(static_cast<unsigned char>(field[0]))) v = Arg(a, std::stoul(field), "");
          else v = Arg(a, SIZE_MAX, field.c_str());
          out += PyStr(v);
          i = close;
        } else {
          out += s[i];
        }
      }
      return Value::String(out);
    });
  }
  return Value::Undefined(name);
}

Value DictMethod(const Value& d, const std::string& name) {
  auto bind = [&](auto fn) { return Value::Callable("dict." + name, [d, fn](CallArgs& a) { return fn(d.AsDict(), a); }); };
  if (name == "items") {
    return bind([](const Dict& d, CallArgs&) {
      List out;
      for (const auto& [k, v] : d.items) out.push_back(Value::MakeTuple({k, v}));
      return Value::MakeList(std::move(out));
    });
  }
  if (name == "keys") {
    return bind([](const Dict& d, CallArgs&) {
      List out;
      for (const auto& kv : d.items) out.push_back(kv.first);
      return Value::MakeList(std::move(out));
    });
  }
  if (name == "values") {
    return bind([](const Dict& d, CallArgs&) {
      List out;
      for (const auto& kv : d.items) out.push_back(kv.second);
      return Value::MakeList(std::move(out));
    });
  }
  if (name == "get") {
    return bind([](const Dict& d, CallArgs& a) {
      if (const Value* v = d.Find(Arg(a, 0, "key"))) return *v;
      return Arg(a, 1, "default", Value::None());
    });
  }
  // Mutating methods are refused, as in the reference's immutable sandbox.
  for (const char* unsafe : {"update", "pop", "popitem", "setdefault", "clear"}) {
    if (name == unsafe) {
      return Value::Callable("dict." + name, [name](CallArgs&) -> Value {
        Fail(fmt::format("access to attribute '{}' of 'dict' object is unsafe", name));
      });
    }
  }
  return Value::Undefined(name);
}

Value ListMethod(const Value& l, const std::string& name) {
  if (name == "index") {
    return Value::Callable("list.index", [l](CallArgs& a) {
      const Value x = Arg(a, 0, "value");
      const List& items = l.AsList();
      for (size_t i = 0; i < items.size(); ++i) {
        if (items[i].Equals(x)) return Value::Int(static_cast<int64_t>(i));
      }
      Fail(fmt::format("{} is not in list", PyRepr(x)));
    });
  }
  if (name == "count") {
    return Value::Callable("list.count", [l](CallArgs& a) {
      const Value x = Arg(a, 0, "value");
      int64_t n = 0;
      for (const Value& v : l.AsList()) n += v.Equals(x);
      return Value::Int(n);
    });
  }
  for (const char* unsafe : {"append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear"}) {
    if (name == unsafe) {
      return Value::Callable("list." + name, [name](CallArgs&) -> Value {
        Fail(fmt::format("access to attribute '{}' of 'list' object is unsafe", name));
      });
    }
  }
  return Value::Undefined(name);
}

}  // namespace

Value Arg(const CallArgs& a, size_t i, const char* name, Value fallback) {
  for (const auto& [k, v] : a.keyword) {
    if (k == name) return v;
  }
  if (i < a.positional.size()) return a.positional[i];
  return fallback;
}

Value GetAttributePath(const Value& item, const std::string& path) {
  Value cur = item;
  size_t pos = 0;
  while (pos <= path.size()) {
    const size_t dot = path.find('.', pos);
    const std::string part = path.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
    int64_t index = -1;
    const bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
                        std::from_chars(part.data(), part.data() + part.size(), index).ec == std::errc();
    if (cur.is_dict()) {
      const Value* v = digits ? cur.AsDict().Find(Value::Int(index)) : cur.AsDict().Find(part);
      cur = v != nullptr ? *v : Value::Undefined(part);
    } else if (cur.is_list() && !cur.is_iterator() && digits) {
      cur = index < static_cast<int64_t>(cur.AsList().size()) ? cur.AsList()[index] : Value::Undefined(part);
    } else {
      cur = Value::Undefined(part);
    }
    if (dot == std::string::npos) break;
    pos = dot + 1;
  }
  return cur;
}

int64_t PyLen(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kString: return static_cast<int64_t>(Chars(v.AsString()).size());
    case Value::Kind::kList:
      if (v.is_iterator()) Fail(fmt::format("object of type '{}' has no len()", v.iterator_type()));
      return static_cast<int64_t>(v.AsList().size());
    case Value::Kind::kDict: return static_cast<int64_t>(v.AsDict().size());
    case Value::Kind::kUndefined: return 0;
    default: Fail(fmt::format("object of type '{}' has no len()", KindName(v.kind())));
  }
}

List Iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kList: return v.AsList();
    case Value::Kind::kDict: {
      List keys;
      for (const auto& kv : v.AsDict().items) keys.push_back(kv.first);
      return keys;
    }
    case Value::Kind::kString: {
      List out;
      for (const auto& c : Chars(v.AsString())) out.push_back(Value::String(c.second));
      return out;
    }
    case Value::Kind::kUndefined: return {};
    default: Fail(fmt::format("'{}' object is not iterable", KindName(v.kind())));
  }
}

Value GetMethod(const Value& object, const std::string& name) {
  if (object.is_string()) return StringMethod(object.AsString(), name);
  if (object.is_dict()) return DictMethod(object, name);
  if (object.is_list()) return ListMethod(object, name);
  return Value::Undefined(name);
}

}  // namespace tf::jinja
