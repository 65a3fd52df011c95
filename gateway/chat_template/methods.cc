// Python methods of str, dict, list and tuple reachable from templates (`s.startswith('x')`,
// `d.get('k')`, `d.items()`). Mutating methods are blocked by the immutable sandbox and absent.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "gateway/chat_template/builtins.h"
#include "gateway/chat_template/builtins_internal.h"
#include "gateway/chat_template/py_format.h"
#include "gateway/chat_template/py_text.h"

namespace qwen::gateway::jinja {
namespace {

using internal::SameKind;

absl::StatusOr<std::optional<std::string>> OptionalStr(const std::optional<Value>& v,
                                                       std::string_view what) {
  if (!v || v->is_none()) return std::optional<std::string>();
  if (!v->is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(what), " arg must be None or str"));
  }
  return std::optional<std::string>(v->str());
}

absl::StatusOr<std::string> RequireStr(const Value& v, std::string_view what) {
  if (!v.is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(what), " must be str, not ",
                                                   PyTypeName(v)));
  }
  return v.str();
}

// self[start:end] by code points, as str methods with start/end arguments use it.
absl::StatusOr<std::string> Window(const std::string& self, const std::optional<Value>& start,
                                   const std::optional<Value>& end) {
  if ((!start || start->is_none()) && (!end || end->is_none())) return self;
  const std::u32string s = DecodeUtf8(self);
  const int64_t n = static_cast<int64_t>(s.size());
  auto index = [&](const std::optional<Value>& v, int64_t dflt) -> absl::StatusOr<int64_t> {
    if (!v || v->is_none()) return dflt;
    if (!v->is_integral()) return absl::InvalidArgumentError("slice indices must be integers or None");
    int64_t i = v->int_value();
    if (i < 0) i = std::max<int64_t>(0, i + n);
    return std::min(i, n);
  };
  QWEN_ASSIGN_OR_RETURN(int64_t b, index(start, 0));
  QWEN_ASSIGN_OR_RETURN(int64_t e, index(end, n));
  if (e <= b) return std::string();
  return EncodeUtf8(std::u32string_view(s).substr(b, e - b));
}

absl::StatusOr<Value> StartsOrEndsWith(const Value& self, const CallArgs& args, bool starts) {
  const char* name = starts ? "startswith" : "endswith";
  QWEN_ASSIGN_OR_RETURN(auto a, BindArgs(name, args, {"prefix", "start", "end"}, 1));
  QWEN_ASSIGN_OR_RETURN(std::string text, Window(self.str(), a[1], a[2]));
  ValueList candidates;
  if (a[0]->is_tuple()) {
    candidates = a[0]->list();
  } else {
    candidates.push_back(*a[0]);
  }
  for (const Value& c : candidates) {
    if (!c.is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(
          name, " first arg must be str or a tuple of str, not ", PyTypeName(c)));
    }
    const std::string& p = c.str();
    if (p.size() > text.size()) continue;
    if (starts ? text.compare(0, p.size(), p) == 0
               : text.compare(text.size() - p.size(), p.size(), p) == 0) {
      return Value::Bool(true);
    }
  }
  return Value::Bool(false);
}

absl::StatusOr<Value> Strip(const Value& self, const CallArgs& args, bool left, bool right,
                            const char* name) {
  QWEN_ASSIGN_OR_RETURN(auto a, BindArgs(name, args, {"chars"}));
  QWEN_ASSIGN_OR_RETURN(std::optional<std::string> chars, OptionalStr(a[0], name));
  return SameKind(self, PyStrip(self.str(), left, right, chars));
}

absl::StatusOr<Value> Split(const Value& self, const CallArgs& args, bool reverse) {
  const char* name = reverse ? "rsplit" : "split";
  QWEN_ASSIGN_OR_RETURN(auto a, BindArgs(name, args, {"sep", "maxsplit"}));
  QWEN_ASSIGN_OR_RETURN(std::optional<std::string> sep, OptionalStr(a[0], name));
  if (sep && sep->empty()) return absl::InvalidArgumentError("empty separator");
  int64_t maxsplit = -1;
  if (a[1]) {
    QWEN_ASSIGN_OR_RETURN(maxsplit, internal::IntArg(*a[1], "maxsplit"));
  }
  ValueList out;
  for (std::string& part : reverse ? PyRSplit(self.str(), sep, maxsplit)
                                   : PySplit(self.str(), sep, maxsplit)) {
    out.push_back(SameKind(self, std::move(part)));
  }
  return Value::List(std::move(out));
}

absl::StatusOr<Value> Replace(const Value& self, const CallArgs& args) {
  QWEN_ASSIGN_OR_RETURN(auto a, BindArgs("replace", args, {"old", "new", "count"}, 2));
  QWEN_ASSIGN_OR_RETURN(std::string old_text, RequireStr(*a[0], "replace() argument 1"));
  QWEN_ASSIGN_OR_RETURN(std::string new_text, RequireStr(*a[1], "replace() argument 2"));
  int64_t count = -1;
  if (a[2]) {
    QWEN_ASSIGN_OR_RETURN(count, internal::IntArg(*a[2], "count"));
  }
  const std::string& s = self.str();
  std::string out;
  if (old_text.empty()) {
    // Python inserts `new` before every code point and at the end.
    const std::u32string chars = DecodeUtf8(s);
    int64_t done = 0;
    for (char32_t c : chars) {
      if (count < 0 || done < count) {
        out += new_text;
        ++done;
      }
      AppendUtf8(c, &out);
    }
    if (count < 0 || done < count) out += new_text;
  } else {
    size_t pos = 0;
    int64_t done = 0;
    while (count < 0 || done < count) {
      const size_t hit = s.find(old_text, pos);
      if (hit == std::string::npos) break;
      out.append(s, pos, hit - pos);
      out += new_text;
      pos = hit + old_text.size();
      ++done;
    }
    out.append(s, pos, std::string::npos);
  }
  return Value::String(std::move(out));
}

// find/rfind/index/rindex/count.
absl::StatusOr<Value> Find(const Value& self, const CallArgs& args, const char* name) {
  QWEN_ASSIGN_OR_RETURN(auto a, BindArgs(name, args, {"sub", "start", "end"}, 1));
  QWEN_ASSIGN_OR_RETURN(std::string sub, RequireStr(*a[0], "must be str"));
  const std::u32string s = DecodeUtf8(self.str());
  const int64_t n = static_cast<int64_t>(s.size());
  auto index = [&](const std::optional<Value>& v, int64_t dflt) -> int64_t {
    if (!v || !v->is_integral()) return dflt;
    int64_t i = v->int_value();
    if (i < 0) i = std::max<int64_t>(0, i + n);
    return std::min(i, n);
  };
  const int64_t begin = index(a[1], 0), end = index(a[2], n);
  const std::u32string needle = DecodeUtf8(sub);
  const std::string_view what(name);
  if (what == "count") {
    if (begin > end) return Value::Int(0);
    if (needle.empty()) return Value::Int(end - begin + 1);
    int64_t hits = 0;
    for (int64_t i = begin; i + static_cast<int64_t>(needle.size()) <= end;) {
      if (s.compare(i, needle.size(), needle) == 0) {
        ++hits;
        i += needle.size();
      } else {
        ++i;
      }
    }
    return Value::Int(hits);
  }
  int64_t found = -1;
  const int64_t last_start = end - static_cast<int64_t>(needle.size());
  if (what == "find" || what == "index") {
    for (int64_t i = begin; i <= last_start; ++i) {
      if (s.compare(i, needle.size(), needle) == 0) {
        found = i;
        break;
      }
    }
  } else {
    for (int64_t i = last_start; i >= begin; --i) {
      if (s.compare(i, needle.size(), needle) == 0) {
        found = i;
        break;
      }
    }
  }
  if (found < 0 && (what == "index" || what == "rindex")) {
    return absl::InvalidArgumentError("substring not found");
  }
  return Value::Int(found);
}

absl::StatusOr<Value> Join(const Value& self, const CallArgs& args) {
  QWEN_ASSIGN_OR_RETURN(auto a, BindArgs("join", args, {"iterable"}, 1));
  QWEN_ASSIGN_OR_RETURN(ValueList items, Iterate(*a[0]));
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (!items[i].is_string()) {
      return absl::InvalidArgumentError(absl::StrCat("sequence item ", i,
                                                     ": expected str instance, ",
                                                     PyTypeName(items[i]), " found"));
    }
    if (i > 0) out += self.str();
    out += items[i].str();
  }
  return Value::String(std::move(out));
}

absl::StatusOr<Value> Pad(const Value& self, const CallArgs& args, const char* name) {
  QWEN_ASSIGN_OR_RETURN(auto a, BindArgs(name, args, {"width", "fillchar"}, 1));
  QWEN_ASSIGN_OR_RETURN(int64_t width, internal::IntArg(*a[0], "width"));
  std::string fill = " ";
  if (a[1]) {
    QWEN_ASSIGN_OR_RETURN(fill, RequireStr(*a[1], "fill character"));
    if (CodePointCount(fill) != 1) {
      return absl::InvalidArgumentError("The fill character must be exactly one character long");
    }
  }
  const std::string& s = self.str();
  const int64_t len = static_cast<int64_t>(CodePointCount(s));
  if (width <= len) return Value::String(s);
  const int64_t marg = width - len;
  int64_t left = 0;
  const std::string_view what(name);
  if (what == "rjust") {
    left = marg;
  } else if (what == "center") {
    left = marg / 2 + (marg & width & 1);
  }
  std::string out;
  for (int64_t i = 0; i < left; ++i) out += fill;
  out += s;
  for (int64_t i = left; i < marg; ++i) out += fill;
  return Value::String(std::move(out));
}

absl::StatusOr<Value> CharClass(const Value& self, const CallArgs& args, const char* name) {
  QWEN_RETURN_IF_ERROR(BindArgs(name, args, {}).status());
  const std::u32string s = DecodeUtf8(self.str());
  const std::string_view what(name);
  if (what == "islower") return Value::Bool(PyIsLower(self.str()));
  if (what == "isupper") return Value::Bool(PyIsUpper(self.str()));
  if (s.empty()) return Value::Bool(false);
  for (char32_t c : s) {
    bool ok = false;
    if (what == "isspace") ok = IsPySpace(c);
    if (what == "isalpha") ok = IsPyAlpha(c);
    if (what == "isdigit" || what == "isdecimal" || what == "isnumeric") ok = IsPyDigit(c);
    if (what == "isalnum") ok = IsPyAlpha(c) || IsPyDigit(c);
    if (!ok) return Value::Bool(false);
  }
  return Value::Bool(true);
}

absl::StatusOr<Value> StrMethod(const std::string& name, const Value& self, const CallArgs& args) {
  if (name == "startswith" || name == "endswith") {
    return StartsOrEndsWith(self, args, name == "startswith");
  }
  if (name == "strip") return Strip(self, args, true, true, "strip");
  if (name == "lstrip") return Strip(self, args, true, false, "lstrip");
  if (name == "rstrip") return Strip(self, args, false, true, "rstrip");
  if (name == "split") return Split(self, args, false);
  if (name == "rsplit") return Split(self, args, true);
  if (name == "replace") return Replace(self, args);
  if (name == "join") return Join(self, args);
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex" ||
      name == "count") {
    return Find(self, args, name.c_str());
  }
  if (name == "ljust" || name == "rjust" || name == "center") return Pad(self, args, name.c_str());
  if (name == "format") {
    QWEN_ASSIGN_OR_RETURN(std::string out, PyBraceFormat(self.str(), args));
    return Value::String(std::move(out));
  }
  QWEN_RETURN_IF_ERROR(name.rfind("is", 0) == 0 ? absl::OkStatus()
                                                : BindArgs(name, args, {}).status());
  if (name == "lower" || name == "casefold") return SameKind(self, PyLower(self.str()));
  if (name == "upper") return SameKind(self, PyUpper(self.str()));
  if (name == "title") return SameKind(self, PyTitle(self.str()));
  if (name == "capitalize") return SameKind(self, PyCapitalize(self.str()));
  if (name == "splitlines") {
    ValueList out;
    for (std::string& line : PySplitLines(self.str())) out.push_back(Value::String(std::move(line)));
    return Value::List(std::move(out));
  }
  return CharClass(self, args, name.c_str());
}

absl::StatusOr<Value> DictMethod(const std::string& name, const Value& self, const CallArgs& args) {
  if (name == "get") {
    QWEN_ASSIGN_OR_RETURN(auto a, BindArgs("get", args, {"key", "default"}, 1));
    if (!IsHashable(*a[0])) {
      return absl::InvalidArgumentError(absl::StrCat("unhashable type: '", PyTypeName(*a[0]), "'"));
    }
    if (const Value* v = self.dict().Find(*a[0])) return *v;
    return a[1] ? *a[1] : Value::None();
  }
  QWEN_RETURN_IF_ERROR(BindArgs(name, args, {}).status());
  if (name == "copy") return self;
  ValueList out;
  for (const auto& [k, v] : self.dict().items()) {
    if (name == "items") {
      out.push_back(Value::Tuple({k, v}));
    } else {
      out.push_back(name == "keys" ? k : v);
    }
  }
  return Value::List(std::move(out));
}

absl::StatusOr<Value> ListMethod(const std::string& name, const Value& self, const CallArgs& args) {
  if (name == "copy") {
    QWEN_RETURN_IF_ERROR(BindArgs(name, args, {}).status());
    return Value::List(self.list());
  }
  QWEN_ASSIGN_OR_RETURN(auto a, BindArgs(name, args, {"value"}, 1));
  int64_t count = 0;
  for (size_t i = 0; i < self.list().size(); ++i) {
    if (!PyEquals(self.list()[i], *a[0])) continue;
    if (name == "index") return Value::Int(static_cast<int64_t>(i));
    ++count;
  }
  if (name == "index") {
    return absl::InvalidArgumentError(absl::StrCat(ToPyRepr(*a[0]), " is not in list"));
  }
  return Value::Int(count);
}

constexpr std::string_view kStrMethods[] = {
    "startswith", "endswith", "strip",    "lstrip",     "rstrip",  "split",     "rsplit",
    "replace",    "join",     "find",     "rfind",      "index",   "rindex",    "count",
    "ljust",      "rjust",    "center",   "format",     "lower",   "casefold",  "upper",
    "title",      "capitalize", "splitlines", "isspace", "isalpha", "isdigit", "isdecimal",
    "isnumeric",  "isalnum",  "islower",  "isupper"};
constexpr std::string_view kDictMethods[] = {"get", "items", "keys", "values", "copy"};
constexpr std::string_view kListMethods[] = {"count", "index", "copy"};
constexpr std::string_view kTupleMethods[] = {"count", "index"};

template <size_t N>
bool Contains(const std::string_view (&names)[N], const std::string& name) {
  return std::find(std::begin(names), std::end(names), name) != std::end(names);
}

}  // namespace

std::optional<Value> GetMethod(const Value& obj, const std::string& name) {
  using Impl = absl::StatusOr<Value> (*)(const std::string&, const Value&, const CallArgs&);
  Impl impl = nullptr;
  if (obj.is_string() && Contains(kStrMethods, name)) {
    impl = StrMethod;
  } else if (obj.is_dict() && Contains(kDictMethods, name)) {
    impl = DictMethod;
  } else if (obj.is_tuple() && Contains(kTupleMethods, name)) {
    impl = ListMethod;
  } else if (obj.is_list() && !obj.is_tuple() && Contains(kListMethods, name)) {
    impl = ListMethod;
  }
  if (impl == nullptr) return std::nullopt;
  return Value::Function(name, [impl, name, obj](Interpreter&, CallArgs& args) {
    return impl(name, obj, args);
  });
}

}  // namespace qwen::gateway::jinja
