#include "jinja/value.h"

#include <cmath>

#include <fmt/format.h>

#include "jinja/error.h"

namespace tf::jinja {

Value Value::String(std::string s) {
  Value v;
  v.kind_ = Kind::kString;
  v.string_ = std::make_shared<std::string>(std::move(s));
  return v;
}

Value Value::MakeList(List items) {
  Value v;
  v.kind_ = Kind::kList;
  v.list_ = std::make_shared<List>(std::move(items));
  return v;
}

Value Value::MakeTuple(List items) {
  Value v = MakeList(std::move(items));
  v.tuple_ = true;
  return v;
}

Value Value::MakeIterator(List items, std::string type_name) {
  Value v = MakeList(std::move(items));
  v.iterator_type_ = std::move(type_name);
  return v;
}

Value Value::MakeDict() {
  Value v;
  v.kind_ = Kind::kDict;
  v.dict_ = std::make_shared<Dict>();
  return v;
}

Value Value::Namespace() {
  Value v = MakeDict();
  v.dict_->is_namespace = true;
  return v;
}

Value Value::Callable(std::string name, NativeFn fn) {
  Value v;
  v.kind_ = Kind::kCallable;
  v.callable_ = std::make_shared<CallableData>(CallableData{std::move(name), std::move(fn)});
  return v;
}

bool Value::is_namespace() const { return kind_ == Kind::kDict && dict_->is_namespace; }

const std::string& Value::undefined_name() const {
  static const std::string empty;
  return string_ ? *string_ : empty;
}

const std::string& Value::callable_name() const { return callable_->name; }

Value Value::Call(CallArgs& args) const { return callable_->fn(args); }

bool Value::Truthy() const {
  switch (kind_) {
    case Kind::kUndefined: case Kind::kNone: return false;
    case Kind::kBool: case Kind::kInt: return int_ != 0;
    case Kind::kFloat: return float_ != 0.0;
    case Kind::kString: return !string_->empty();
    case Kind::kList: return !iterator_type_.empty() || !list_->empty();
    case Kind::kDict: return dict_->size() != 0;
    case Kind::kCallable: return true;
  }
  return false;
}

bool Value::Equals(const Value& o) const {
  if (is_number() && o.is_number()) {
    if (is_float() || o.is_float()) return AsDouble() == o.AsDouble();
    return int_ == o.int_;
  }
  if (kind_ != o.kind_) return false;
  switch (kind_) {
    case Kind::kUndefined: case Kind::kNone: return true;
    case Kind::kString: return *string_ == *o.string_;
    case Kind::kList: {
      if (!iterator_type_.empty() || !o.iterator_type_.empty()) return list_ == o.list_;
      if (tuple_ != o.tuple_ || list_->size() != o.list_->size()) return false;
      for (size_t i = 0; i < list_->size(); ++i) {
        if (!(*list_)[i].Equals((*o.list_)[i])) return false;
      }
      return true;
    }
    case Kind::kDict: {
      if (dict_->size() != o.dict_->size()) return false;
      for (const auto& [k, v] : dict_->items) {
        const Value* other = o.dict_->Find(k);  // by Python equality of keys
        if (other == nullptr || !v.Equals(*other)) return false;
      }
      return true;
    }
    case Kind::kCallable: return callable_ == o.callable_;
    default: return false;
  }
}

bool Value::SameAs(const Value& o) const {
  if (kind_ != o.kind_) return false;
  if (kind_ == Kind::kList) return list_ == o.list_;
  if (kind_ == Kind::kDict) return dict_ == o.dict_;
  return Equals(o);
}

std::optional<std::string> HashKey(const Value& key) {
  switch (key.kind()) {
    case Value::Kind::kString: {
      std::string hash(1, 's');
      hash.append(key.AsString());
      return hash;
    }
    case Value::Kind::kNone: return std::string("n");
    case Value::Kind::kUndefined: return std::string("u");
    case Value::Kind::kBool:
    case Value::Kind::kInt: return fmt::format("i{}", key.AsInt());
    case Value::Kind::kFloat: {
      const double d = key.AsDouble();
      // An integral float hashes as the int it equals.
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.2e18) {
        return fmt::format("i{}", static_cast<int64_t>(d));
      }
      return fmt::format("f{:a}", d);
    }
    case Value::Kind::kList: {
      if (!key.is_tuple()) return std::nullopt;
      std::string out = "t";
      for (const Value& item : key.AsList()) {
        const std::optional<std::string> part = HashKey(item);
        if (!part) return std::nullopt;
        out += fmt::format("{}:{}", part->size(), *part);
      }
      return out;
    }
    case Value::Kind::kDict: return std::nullopt;
    case Value::Kind::kCallable: return fmt::format("c{}", key.callable_name());
  }
  return std::nullopt;
}

const Value* Dict::Find(std::string_view key) const {
  std::string hash(1, 's');  // HashKey of a string
  hash.append(key);
  auto it = index.find(hash);
  return it == index.end() ? nullptr : &items[it->second].second;
}

const Value* Dict::Find(const Value& key) const {
  const std::optional<std::string> hash = HashKey(key);
  if (!hash) return nullptr;
  auto it = index.find(*hash);
  return it == index.end() ? nullptr : &items[it->second].second;
}

void Dict::Set(const std::string& key, Value value) { Set(Value::String(key), std::move(value)); }

void Dict::Set(const Value& key, Value value) {
  const std::optional<std::string> hash = HashKey(key);
  if (!hash) throw JinjaError(fmt::format("unhashable type: '{}'", TypeName(key)));
  auto it = index.find(*hash);
  if (it != index.end()) {
    items[it->second].second = std::move(value);
    return;
  }
  index.emplace(*hash, items.size());
  items.emplace_back(key, std::move(value));
}

std::string TypeName(const Value& v) {
  if (v.is_iterator()) return v.iterator_type();
  if (v.is_tuple()) return "tuple";
  return KindName(v.kind());
}

const char* KindName(Value::Kind kind) {
  switch (kind) {
    case Value::Kind::kUndefined: return "Undefined";
    case Value::Kind::kNone: return "NoneType";
    case Value::Kind::kBool: return "bool";
    case Value::Kind::kInt: return "int";
    case Value::Kind::kFloat: return "float";
    case Value::Kind::kString: return "str";
    case Value::Kind::kList: return "list";
    case Value::Kind::kDict: return "dict";
    case Value::Kind::kCallable: return "function";
  }
  return "?";
}

}  // namespace tf::jinja
