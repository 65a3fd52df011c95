#include "gateway/tokenizer/tokenizer_json_reader.h"

#include <climits>

#include "absl/strings/str_cat.h"

namespace qwen::gateway {
namespace {

using Json = nlohmann::json;
using DomParser = nlohmann::detail::json_sax_dom_parser<Json>;

// SAX handler: forwards events to nlohmann's DOM builder, except inside the two tables.
class Handler {
 public:
  explicit Handler(TokenizerJsonDocument* doc) : doc_(doc), dom_(doc->root, false) {}

  const std::string& error() const { return error_; }

  bool null() {
    return Scalar("null", [&] { return dom_.null(); });
  }
  bool boolean(bool v) {
    return Scalar("a boolean", [&] { return dom_.boolean(v); });
  }
  bool number_integer(Json::number_integer_t v) {
    if (mode_ == Mode::kVocab) return VocabId(v);
    return Scalar("a number", [&] { return dom_.number_integer(v); });
  }
  bool number_unsigned(Json::number_unsigned_t v) {
    if (mode_ == Mode::kVocab) {
      return VocabId(v > static_cast<Json::number_unsigned_t>(INT64_MAX) ? -1
                                                                         : static_cast<int64_t>(v));
    }
    return Scalar("a number", [&] { return dom_.number_unsigned(v); });
  }
  bool number_float(Json::number_float_t v, const std::string& s) {
    return Scalar("a number", [&] { return dom_.number_float(v, s); });
  }
  bool binary(Json::binary_t& v) {
    return Scalar("binary", [&] { return dom_.binary(v); });
  }
  bool string(std::string& v) {
    switch (mode_) {
      case Mode::kNone:
        return dom_.string(v);
      case Mode::kVocab:
        return VocabError(Json(v).dump());
      case Mode::kMerges:
        doc_->merges.push_back({std::move(v), "", true});
        return true;
      case Mode::kMergePair:
        pair_.push_back(std::move(v));
        return true;
    }
    return false;
  }
  bool key(std::string& k) {
    if (mode_ == Mode::kVocab) {
      key_ = std::move(k);
      return true;
    }
    if (!frames_.empty()) frames_.back().key = k;
    return dom_.key(k);
  }
  bool start_object(std::size_t n) {
    if (mode_ != Mode::kNone) return Scalar("an object", [] { return true; });
    if (AtModelField("vocab")) mode_ = Mode::kVocab;
    frames_.push_back({true, ""});
    return dom_.start_object(n);
  }
  bool end_object() {
    if (mode_ == Mode::kVocab) mode_ = Mode::kNone;
    frames_.pop_back();
    return dom_.end_object();
  }
  bool start_array(std::size_t n) {
    if (mode_ == Mode::kMerges) {
      mode_ = Mode::kMergePair;
      pair_.clear();
      return true;
    }
    if (mode_ != Mode::kNone) return Scalar("an array", [] { return true; });
    if (AtModelField("merges")) mode_ = Mode::kMerges;
    frames_.push_back({false, ""});
    return dom_.start_array(n);
  }
  bool end_array() {
    if (mode_ == Mode::kMergePair) {
      if (pair_.size() != 2) return MergeError();
      doc_->merges.push_back({std::move(pair_[0]), std::move(pair_[1]), false});
      mode_ = Mode::kMerges;
      return true;
    }
    if (mode_ == Mode::kMerges) mode_ = Mode::kNone;
    frames_.pop_back();
    return dom_.end_array();
  }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception&) {
    if (error_.empty()) error_ = absl::StrCat("not valid JSON (error near byte ", position, ")");
    return false;
  }

 private:
  enum class Mode { kNone, kVocab, kMerges, kMergePair };
  struct Frame {
    bool is_object;
    std::string key;  // the current key, for objects
  };

  // True when the value about to start is root.model.<field>.
  bool AtModelField(const char* field) const {
    return frames_.size() == 2 && frames_[0].is_object && frames_[0].key == "model" &&
           frames_[1].is_object && frames_[1].key == field;
  }

  // A value other than a string or an id: an error inside the tables, else a DOM value.
  template <typename Forward>
  bool Scalar(const char* what, Forward forward) {
    switch (mode_) {
      case Mode::kNone:
        return forward();
      case Mode::kVocab:
        return VocabError(what);
      case Mode::kMerges:
      case Mode::kMergePair:
        return MergeError();
    }
    return false;
  }
  bool VocabId(int64_t id) {
    if (id < 0 || id > INT32_MAX) return VocabError(std::to_string(id));
    doc_->vocab.emplace_back(std::move(key_), static_cast<int32_t>(id));
    return true;
  }
  bool VocabError(const std::string& got) {
    error_ = absl::StrCat("model.vocab[", Json(key_).dump(),
                          "] must be a non-negative integer id, got ", got);
    return false;
  }
  bool MergeError() {
    error_ =
        absl::StrCat("model.merges[", doc_->merges.size(), "] must be \"a b\" or [\"a\", \"b\"]");
    return false;
  }

  TokenizerJsonDocument* doc_;
  DomParser dom_;
  Mode mode_ = Mode::kNone;
  std::vector<Frame> frames_;
  std::string key_;                // current vocab key
  std::vector<std::string> pair_;  // strings of the current merge pair
  std::string error_;
};

}  // namespace

absl::StatusOr<TokenizerJsonDocument> ReadTokenizerJson(std::string_view text) {
  TokenizerJsonDocument doc;
  Handler handler(&doc);
  const bool ok = Json::sax_parse(text.begin(), text.end(), &handler);
  if (!ok || doc.root.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tokenizer.json: ", handler.error().empty() ? "not valid JSON" : handler.error()));
  }
  return doc;
}

}  // namespace qwen::gateway
