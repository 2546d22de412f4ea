// Values of the Jinja subset that renders chat templates, with Python's
// semantics (what the Hugging Face reference renderer runs on): None,
// booleans, 64-bit integers, floats, strings, lists and tuples, dicts
// keyed by any hashable value (shared and mutable like Python's),
// callables (macros, builtins, bound methods) and Jinja's Undefined.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace tf::jinja {

class Value;
struct Dict;
using List = std::vector<Value>;

// Arguments of a call: positional, then keyword.
struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};
using NativeFn = std::function<Value(CallArgs& args)>;

class Value {
 public:
  enum class Kind { kUndefined, kNone, kBool, kInt, kFloat, kString, kList, kDict, kCallable };

  Value() = default;  // Undefined
  static Value Undefined(std::string name = "") {
    Value v;
    v.string_ = std::make_shared<std::string>(std::move(name));
    return v;
  }
  static Value None() { Value v; v.kind_ = Kind::kNone; return v; }
  static Value Bool(bool b) { Value v; v.kind_ = Kind::kBool; v.int_ = b; return v; }
  static Value Int(int64_t i) { Value v; v.kind_ = Kind::kInt; v.int_ = i; return v; }
  static Value Float(double f) { Value v; v.kind_ = Kind::kFloat; v.float_ = f; return v; }
  static Value String(std::string s);
  static Value MakeList(List items = {});
  // A tuple: a list that prints as (a, b), is hashable, and differs from
  // a list of the same items (Python's (1, 2) != [1, 2]).
  static Value MakeTuple(List items);
  // A lazy sequence (what Jinja's map/select/... return in Python): it can
  // be iterated, but has no len(), no indexing and no JSON form.
  static Value MakeIterator(List items, std::string type_name = "generator");
  static Value MakeDict();
  static Value Namespace();  // a dict whose attributes can be assigned
  static Value Callable(std::string name, NativeFn fn);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::kUndefined; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_int() const { return kind_ == Kind::kInt; }
  bool is_float() const { return kind_ == Kind::kFloat; }
  bool is_number() const { return kind_ == Kind::kInt || kind_ == Kind::kFloat || kind_ == Kind::kBool; }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_list() const { return kind_ == Kind::kList; }
  bool is_tuple() const { return kind_ == Kind::kList && tuple_; }
  bool is_iterator() const { return kind_ == Kind::kList && !iterator_type_.empty(); }
  const std::string& iterator_type() const { return iterator_type_; }
  bool is_dict() const { return kind_ == Kind::kDict; }
  bool is_callable() const { return kind_ == Kind::kCallable; }
  bool is_namespace() const;

  bool AsBool() const { return int_ != 0; }
  int64_t AsInt() const { return kind_ == Kind::kFloat ? static_cast<int64_t>(float_) : int_; }
  double AsDouble() const { return kind_ == Kind::kFloat ? float_ : static_cast<double>(int_); }
  const std::string& AsString() const { return *string_; }
  // For Undefined: the name that was looked up (for error messages).
  const std::string& undefined_name() const;
  List& AsList() const { return *list_; }
  Dict& AsDict() const { return *dict_; }
  const std::string& callable_name() const;
  Value Call(CallArgs& args) const;

  bool Truthy() const;
  // Python's == (deep for lists and dicts).
  bool Equals(const Value& other) const;
  // Identity for lists/dicts (Python `is`), equality otherwise.
  bool SameAs(const Value& other) const;

 private:
  struct CallableData {
    std::string name;
    NativeFn fn;
  };
  Kind kind_ = Kind::kUndefined;
  int64_t int_ = 0;
  double float_ = 0.0;
  std::shared_ptr<std::string> string_;  // string, or the undefined name
  std::shared_ptr<List> list_;
  std::shared_ptr<Dict> dict_;
  std::shared_ptr<CallableData> callable_;
  std::string iterator_type_;  // non-empty for lazy sequences
  bool tuple_ = false;
};

// Python's hash equality as a string: keys that are equal in Python (1,
// 1.0 and True; equal tuples) give the same string. nullopt for unhashable
// values (lists, dicts).
std::optional<std::string> HashKey(const Value& key);

// An insertion-ordered map with Python dict semantics: keys of any hashable
// type keep their type (a key stays the first one inserted among equal
// ones; a later Set replaces only the value).
struct Dict {
  std::vector<std::pair<Value, Value>> items;
  std::unordered_map<std::string, size_t> index;  // HashKey(key) -> position in items
  bool is_namespace = false;

  const Value* Find(std::string_view key) const;  // a string key
  const Value* Find(const Value& key) const;      // nullptr also for an unhashable key
  void Set(const std::string& key, Value value);
  // Throws JinjaError for an unhashable key, as Python raises TypeError.
  void Set(const Value& key, Value value);
  size_t size() const { return items.size(); }
};

// The type name Python reports ("NoneType", "str", "tuple", "generator", ...).
const char* KindName(Value::Kind kind);
std::string TypeName(const Value& v);

}  // namespace tf::jinja
