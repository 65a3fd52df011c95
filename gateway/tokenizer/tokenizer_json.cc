// tokenizer.json / tokenizer_config.json reader. Checks every field it relies on and refuses
// (Unimplemented) the pipeline features it does not reproduce, so that a file it accepts is
// tokenized exactly as Hugging Face `tokenizers` would.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "gateway/tokenizer/byte_level.h"
#include "gateway/tokenizer/tokenizer_json_reader.h"
#include "gateway/tokenizer/tokenizer_spec.h"
#include "gateway/tokenizer/unicode.h"
#include "nlohmann/json.hpp"

namespace qwen::gateway {
namespace {

using Json = nlohmann::json;

absl::Status Invalid(std::string_view file, std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(std::string(file), ": ", std::string(what)));
}
absl::Status Unsupported(std::string_view what) {
  return absl::UnimplementedError(absl::StrCat("tokenizer.json: ", std::string(what)));
}

// Type name for messages.
std::string TypeOf(const Json& j) { return j.type_name(); }

// Value of the string field `key` of object `obj`, or `fallback` when absent or null.
absl::StatusOr<std::string> OptionalString(const Json& obj, const char* key, std::string_view path,
                                           std::string fallback = "") {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return fallback;
  if (!it->is_string()) {
    return Invalid("tokenizer.json", absl::StrCat(std::string(path), ".", key,
                                                  " must be a string, got ", TypeOf(*it)));
  }
  return it->get<std::string>();
}

absl::StatusOr<bool> OptionalBool(const Json& obj, const char* key, std::string_view file,
                                  std::string_view path, bool fallback) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) {
    return Invalid(file, absl::StrCat(std::string(path), ".", key, " must be true or false, got ",
                                      TypeOf(*it)));
  }
  return it->get<bool>();
}

absl::StatusOr<std::string> TypeField(const Json& obj, std::string_view path) {
  if (!obj.is_object()) {
    return Invalid("tokenizer.json",
                   absl::StrCat(std::string(path), " must be an object, got ", TypeOf(obj)));
  }
  QWEN_ASSIGN_OR_RETURN(std::string type, OptionalString(obj, "type", path));
  return type;
}

absl::StatusOr<bool> ParseNormalizer(const Json& root) {
  auto it = root.find("normalizer");
  if (it == root.end() || it->is_null()) return false;
  QWEN_ASSIGN_OR_RETURN(std::string type, TypeField(*it, "normalizer"));
  if (type == "NFC") return true;
  if (type == "Sequence") {
    auto list = it->find("normalizers");
    if (list == it->end() || !list->is_array()) {
      return Invalid("tokenizer.json", "normalizer.normalizers must be an array");
    }
    bool nfc = false;
    for (const Json& n : *list) {
      QWEN_ASSIGN_OR_RETURN(std::string t, TypeField(n, "normalizer.normalizers[]"));
      if (t != "NFC") return Unsupported(absl::StrCat("normalizer '", t, "' is not supported"));
      nfc = true;
    }
    return nfc;
  }
  return Unsupported(absl::StrCat("normalizer '", type, "' is not supported (only NFC)"));
}

absl::Status CheckByteLevel(const Json& j, std::string_view path, bool need_no_regex) {
  // HF's ByteLevel defaults are add_prefix_space = true, use_regex = true.
  QWEN_ASSIGN_OR_RETURN(bool prefix,
                        OptionalBool(j, "add_prefix_space", "tokenizer.json", path, true));
  if (prefix) return Unsupported(absl::StrCat(std::string(path), ".add_prefix_space = true"));
  if (need_no_regex) {
    QWEN_ASSIGN_OR_RETURN(bool regex, OptionalBool(j, "use_regex", "tokenizer.json", path, true));
    if (regex) {
      return Unsupported(
          absl::StrCat(std::string(path), ".use_regex = true (the GPT-2 regex) is not supported"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<PretokenizerPattern> ParsePreTokenizer(const Json& root) {
  auto it = root.find("pre_tokenizer");
  if (it == root.end() || it->is_null()) {
    return Unsupported("a missing pre_tokenizer is not supported (need Split + ByteLevel)");
  }
  QWEN_ASSIGN_OR_RETURN(std::string type, TypeField(*it, "pre_tokenizer"));
  auto list = it->find("pretokenizers");
  if (type != "Sequence" || list == it->end() || !list->is_array() || list->size() != 2) {
    return Unsupported(absl::StrCat("pre_tokenizer '", type,
                                    "' is not supported (need Sequence[Split, ByteLevel])"));
  }
  const Json& split = (*list)[0];
  QWEN_ASSIGN_OR_RETURN(std::string split_type, TypeField(split, "pre_tokenizer.pretokenizers[0]"));
  QWEN_ASSIGN_OR_RETURN(std::string byte_type,
                        TypeField((*list)[1], "pre_tokenizer.pretokenizers[1]"));
  if (split_type != "Split" || byte_type != "ByteLevel") {
    return Unsupported(absl::StrCat("pre_tokenizer Sequence[", split_type, ", ", byte_type,
                                    "] is not supported (need Sequence[Split, ByteLevel])"));
  }
  QWEN_RETURN_IF_ERROR(CheckByteLevel((*list)[1], "pre_tokenizer.pretokenizers[1]", true));
  auto pattern = split.find("pattern");
  if (pattern == split.end() || !pattern->is_object() || !pattern->contains("Regex") ||
      !(*pattern)["Regex"].is_string()) {
    return Invalid("tokenizer.json",
                   "pre_tokenizer.pretokenizers[0].pattern must be {\"Regex\": string}");
  }
  QWEN_ASSIGN_OR_RETURN(std::string behavior,
                        OptionalString(split, "behavior", "pre_tokenizer.pretokenizers[0]"));
  QWEN_ASSIGN_OR_RETURN(bool invert, OptionalBool(split, "invert", "tokenizer.json",
                                                  "pre_tokenizer.pretokenizers[0]", false));
  if (behavior != "Isolated" || invert) {
    return Unsupported(absl::StrCat("Split behavior '", behavior, "'", invert ? " inverted" : "",
                                    " is not supported (need Isolated)"));
  }
  const std::string& regex = (*pattern)["Regex"].get_ref<const std::string&>();
  if (regex == kQwen35PretokenizeRegex) return PretokenizerPattern::kQwen35;
  if (regex == kQwen2PretokenizeRegex) return PretokenizerPattern::kQwen2;
  return Unsupported(absl::StrCat("pre-tokenizer regex ", Json(regex).dump(),
                                  " is not one of the Qwen patterns this tokenizer implements"));
}

absl::Status CheckDecoderAndPostProcessor(const Json& root) {
  auto dec = root.find("decoder");
  if (dec == root.end() || dec->is_null()) return Unsupported("a missing decoder is not supported");
  QWEN_ASSIGN_OR_RETURN(std::string type, TypeField(*dec, "decoder"));
  if (type != "ByteLevel") {
    return Unsupported(absl::StrCat("decoder '", type, "' is not supported (need ByteLevel)"));
  }
  auto post = root.find("post_processor");
  if (post != root.end() && !post->is_null()) {
    QWEN_ASSIGN_OR_RETURN(std::string post_type, TypeField(*post, "post_processor"));
    if (post_type != "ByteLevel") {
      return Unsupported(absl::StrCat("post_processor '", post_type,
                                      "' is not supported (it would add tokens; need ByteLevel)"));
    }
  }
  return absl::OkStatus();
}

absl::Status ParseModel(TokenizerJsonDocument& doc, TokenizerSpec* spec) {
  const Json& root = doc.root;
  auto model_it = root.find("model");
  if (model_it == root.end() || !model_it->is_object()) {
    return Invalid("tokenizer.json", "missing the \"model\" object");
  }
  const Json& model = *model_it;
  QWEN_ASSIGN_OR_RETURN(std::string type, OptionalString(model, "type", "model", "BPE"));
  if (type != "BPE") return Unsupported(absl::StrCat("model type '", type, "' (need BPE)"));
  if (auto d = model.find("dropout"); d != model.end() && !d->is_null()) {
    return Unsupported("model.dropout is not supported");
  }
  QWEN_ASSIGN_OR_RETURN(std::string unk, OptionalString(model, "unk_token", "model"));
  QWEN_ASSIGN_OR_RETURN(std::string prefix,
                        OptionalString(model, "continuing_subword_prefix", "model"));
  QWEN_ASSIGN_OR_RETURN(std::string suffix, OptionalString(model, "end_of_word_suffix", "model"));
  QWEN_ASSIGN_OR_RETURN(bool byte_fallback,
                        OptionalBool(model, "byte_fallback", "tokenizer.json", "model", false));
  if (!unk.empty() || !prefix.empty() || !suffix.empty() || byte_fallback) {
    return Unsupported(
        "model.unk_token / continuing_subword_prefix / end_of_word_suffix / "
        "byte_fallback are not supported");
  }
  QWEN_ASSIGN_OR_RETURN(spec->ignore_merges,
                        OptionalBool(model, "ignore_merges", "tokenizer.json", "model", false));

  // The reader streamed the entries of model.vocab / model.merges into doc (the DOM keeps empty
  // placeholders of the right type).
  auto vocab = model.find("vocab");
  if (vocab == model.end() || !vocab->is_object()) {
    return Invalid("tokenizer.json", "model.vocab must be an object {token: id}");
  }
  if (doc.vocab.empty()) return Invalid("tokenizer.json", "model.vocab is empty");
  spec->vocab.reserve(doc.vocab.size());
  std::string bytes;
  for (auto& [token, id] : doc.vocab) {
    if (ByteLevelToBytes(token, &bytes)) {
      spec->vocab.emplace_back(bytes, id);
    } else {
      spec->foreign_vocab.emplace_back(std::move(token), id);
    }
  }
  doc.vocab = {};

  auto merges = model.find("merges");
  if (merges == model.end() || !merges->is_array()) {
    return Invalid("tokenizer.json", "model.merges must be an array");
  }
  if (doc.merges.empty()) {
    return Invalid("tokenizer.json",
                   "model.merges is empty (a byte-level BPE without merges encodes every byte "
                   "separately; refusing it, see the legacy/array merge formats)");
  }
  spec->merges.reserve(doc.merges.size());
  std::string left, right;
  for (size_t i = 0; i < doc.merges.size(); ++i) {
    TokenizerJsonDocument::Merge& m = doc.merges[i];
    if (m.legacy) {  // "a b"
      const size_t space = m.first.find(' ');
      if (space == std::string::npos || m.first.find(' ', space + 1) != std::string::npos) {
        return Invalid("tokenizer.json",
                       absl::StrCat("model.merges[", i, "] = ", Json(m.first).dump(),
                                    " must be two tokens separated by one space"));
      }
      m.second = m.first.substr(space + 1);
      m.first.resize(space);
    }
    if (ByteLevelToBytes(m.first, &left) && ByteLevelToBytes(m.second, &right)) {
      spec->merges.emplace_back(left, right);
    } else {
      spec->merges.emplace_back();  // keeps later ranks; can never apply (see TokenizerSpec)
    }
  }
  doc.merges = {};
  return absl::OkStatus();
}

absl::StatusOr<AddedToken> ParseAddedToken(const Json& j, std::string_view file,
                                           const std::string& path) {
  if (!j.is_object()) return Invalid(file, absl::StrCat(path, " must be an object"));
  AddedToken t;
  auto content = j.find("content");
  if (content == j.end() || !content->is_string() ||
      content->get_ref<const std::string&>().empty()) {
    return Invalid(file, absl::StrCat(path, ".content must be a non-empty string"));
  }
  t.content = content->get<std::string>();
  if (!IsValidUtf8(t.content)) return Invalid(file, absl::StrCat(path, ".content is not UTF-8"));
  QWEN_ASSIGN_OR_RETURN(t.special, OptionalBool(j, "special", file, path, false));
  QWEN_ASSIGN_OR_RETURN(t.normalized, OptionalBool(j, "normalized", file, path, !t.special));
  QWEN_ASSIGN_OR_RETURN(t.lstrip, OptionalBool(j, "lstrip", file, path, false));
  QWEN_ASSIGN_OR_RETURN(t.rstrip, OptionalBool(j, "rstrip", file, path, false));
  QWEN_ASSIGN_OR_RETURN(t.single_word, OptionalBool(j, "single_word", file, path, false));
  return t;
}

// Checks declared added-token ids against the ids Hugging Face assigns (it ignores the declared
// ones): the vocabulary id when the content is a vocabulary token, else the next id after the
// vocabulary and the previous added tokens.
absl::Status AssignAddedTokens(std::vector<std::pair<AddedToken, std::string>> declared,
                               TokenizerSpec* spec) {
  // Vocabulary lookup by tokenizer.json spelling: BPE tokens by their bytes, others as written.
  absl::flat_hash_map<absl::string_view, int32_t> by_bytes, by_spelling;
  by_bytes.reserve(spec->vocab.size());
  for (const auto& [bytes, id] : spec->vocab) by_bytes.emplace(bytes, id);
  for (const auto& [spelling, id] : spec->foreign_vocab) by_spelling.emplace(spelling, id);
  const auto vocab_size = static_cast<int64_t>(by_bytes.size() + by_spelling.size());
  std::string bytes;
  auto vocab_id = [&](const std::string& content) -> std::optional<int32_t> {
    if (ByteLevelToBytes(content, &bytes)) {
      if (auto it = by_bytes.find(bytes); it != by_bytes.end()) return it->second;
    }
    if (auto it = by_spelling.find(content); it != by_spelling.end()) return it->second;
    return std::nullopt;
  };
  int64_t max_added = -1;
  absl::flat_hash_set<std::string> seen;
  for (auto& [token, origin] : declared) {
    if (!seen.insert(token.content).second) {
      return Invalid(origin,
                     absl::StrCat("added token ", Json(token.content).dump(), " is defined twice"));
    }
    int64_t expected;
    if (std::optional<int32_t> id = vocab_id(token.content)) {
      expected = *id;
    } else {
      expected = max_added >= vocab_size ? max_added + 1 : vocab_size;
    }
    if (token.id != expected) {
      return Invalid(origin,
                     absl::StrCat("added token ", Json(token.content).dump(), " declares id ",
                                  token.id, " but Hugging Face tokenizers assigns it id ", expected,
                                  " (added tokens must follow the vocabulary in order)"));
    }
    max_added = std::max<int64_t>(max_added, expected);
    spec->added_tokens.push_back(std::move(token));
  }
  return absl::OkStatus();
}

absl::StatusOr<int32_t> ParseId(const Json& j, std::string_view file, const std::string& path) {
  if (!j.is_number_integer() || j.get<int64_t>() < 0 || j.get<int64_t>() > INT32_MAX) {
    return Invalid(file, absl::StrCat(path, " must be a non-negative integer id"));
  }
  return static_cast<int32_t>(j.get<int64_t>());
}

}  // namespace

absl::StatusOr<TokenizerSpec> ParseTokenizerSpec(std::string_view tokenizer_json,
                                                 std::string_view tokenizer_config_json) {
  QWEN_ASSIGN_OR_RETURN(TokenizerJsonDocument doc, ReadTokenizerJson(tokenizer_json));
  const Json& root = doc.root;
  if (!root.is_object()) return Invalid("tokenizer.json", "the top level must be an object");
  TokenizerSpec spec;
  QWEN_RETURN_IF_ERROR(ParseModel(doc, &spec));
  QWEN_ASSIGN_OR_RETURN(spec.nfc, ParseNormalizer(root));
  QWEN_ASSIGN_OR_RETURN(spec.pattern, ParsePreTokenizer(root));
  QWEN_RETURN_IF_ERROR(CheckDecoderAndPostProcessor(root));

  std::vector<std::pair<AddedToken, std::string>> declared;  // (token, file it came from)
  absl::flat_hash_map<std::string, size_t> by_content;
  if (auto added = root.find("added_tokens"); added != root.end() && !added->is_null()) {
    if (!added->is_array()) return Invalid("tokenizer.json", "added_tokens must be an array");
    for (size_t i = 0; i < added->size(); ++i) {
      const std::string path = absl::StrCat("added_tokens[", i, "]");
      QWEN_ASSIGN_OR_RETURN(AddedToken t, ParseAddedToken((*added)[i], "tokenizer.json", path));
      auto id = (*added)[i].find("id");
      if (id == (*added)[i].end()) return Invalid("tokenizer.json", path + ".id is missing");
      QWEN_ASSIGN_OR_RETURN(t.id, ParseId(*id, "tokenizer.json", path + ".id"));
      by_content.emplace(t.content, declared.size());
      declared.emplace_back(std::move(t), "tokenizer.json");
    }
  }
  if (!tokenizer_config_json.empty()) {
    const Json config =
        Json::parse(tokenizer_config_json.begin(), tokenizer_config_json.end(), nullptr, false);
    if (config.is_discarded() || !config.is_object()) {
      return Invalid("tokenizer_config.json", "not a valid JSON object");
    }
    auto decoder = config.find("added_tokens_decoder");
    if (decoder != config.end() && !decoder->is_null()) {
      if (!decoder->is_object()) {
        return Invalid("tokenizer_config.json", "added_tokens_decoder must be an object");
      }
      std::vector<AddedToken> extra;
      for (auto it = decoder->begin(); it != decoder->end(); ++it) {
        const std::string path = absl::StrCat("added_tokens_decoder[", Json(it.key()).dump(), "]");
        int64_t id = -1;
        if (!absl::SimpleAtoi(it.key(), &id) || id < 0 || id > INT32_MAX) {
          return Invalid("tokenizer_config.json", path + ": the key must be a token id");
        }
        QWEN_ASSIGN_OR_RETURN(AddedToken t, ParseAddedToken(*it, "tokenizer_config.json", path));
        t.id = static_cast<int32_t>(id);
        if (auto known = by_content.find(t.content); known != by_content.end()) {
          // Already defined by tokenizer.json, which wins; the ids must agree.
          if (declared[known->second].first.id != t.id) {
            return Invalid(
                "tokenizer_config.json",
                absl::StrCat(path, " gives ", Json(t.content).dump(), " id ", t.id,
                             " but tokenizer.json gives it id ", declared[known->second].first.id));
          }
          continue;
        }
        extra.push_back(std::move(t));
      }
      // transformers adds the config-only tokens in id order.
      std::sort(extra.begin(), extra.end(),
                [](const AddedToken& a, const AddedToken& b) { return a.id < b.id; });
      for (AddedToken& t : extra) declared.emplace_back(std::move(t), "tokenizer_config.json");
    }
  }
  QWEN_RETURN_IF_ERROR(AssignAddedTokens(std::move(declared), &spec));
  return spec;
}

}  // namespace qwen::gateway
