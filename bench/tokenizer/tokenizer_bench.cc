// tokenizer_bench: encode/decode throughput of gateway/tokenizer, single thread.
//
//   tokenizer_bench --tokenizer tokenizer.json [--megabytes 4] [--repeat 5] [--seed 1]
//                   [--text-out FILE]
//
// The text is generated deterministically (same seed, same bytes): documents mixing English,
// European languages with accents, Cyrillic, Greek, CJK, Korean, Arabic, Hindi, Thai, emoji,
// code, numbers and white-space runs, with many distinct made-up words so the word cache does
// not make it trivial. --text-out writes it for hf_tokenizers_bench.py. Prints the token count
// and an FNV-1a checksum of the ids so the two programs' outputs can be compared.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/tokenizer/tokenizer.h"

namespace {

// Process CPU time: the machine this runs on is shared, and CPU time is what a single-threaded
// tokenizer costs regardless of how busy the other cores are (wall time is printed too).
struct Timer {
  std::chrono::steady_clock::time_point wall = std::chrono::steady_clock::now();
  std::clock_t cpu = std::clock();
  double CpuSeconds() const { return static_cast<double>(std::clock() - cpu) / CLOCKS_PER_SEC; }
  double WallSeconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - wall).count();
  }
};

// Best (smallest) CPU and wall time over the runs.
struct Best {
  double cpu = 1e30;
  double wall = 1e30;
  void Add(const Timer& t) {
    cpu = std::min(cpu, t.CpuSeconds());
    wall = std::min(wall, t.WallSeconds());
  }
};

// Small deterministic generator (the text must not depend on the standard library's
// distributions, which differ between implementations).
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed * 6364136223846793005ull + 1442695040888963407ull) {}
  uint32_t Next() {
    state_ = state_ * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint32_t>(state_ >> 33);
  }
  size_t Below(size_t n) { return Next() % n; }

 private:
  uint64_t state_;
};

// Syllables per script; words are 1-4 syllables, so most words are new to a vocabulary-sized
// cache but still tokenize like real text of that script.
struct Script {
  std::vector<const char*> syllables;
  const char* space;  // word separator
  const char* sentence_end;
};

const std::vector<Script>& Scripts() {
  static const std::vector<Script> kScripts = {
      {{"the", "and", "ing", "tion", "er",  "re",   "on",   "al",  "st",  "com", "pro", "in",
        "ex",  "pre", "ly",  "ment", "ous", "able", "ness", "ver", "dis", "con", "ter", "ate"},
       " ",
       ". "},
      {{"ä",  "ö",   "ü", "ß",    "ge", "sch", "ung", "ich", "ein", "é", "è",
        "ça", "lle", "ñ", "ción", "ão", "ł",   "ż",   "ř",   "ů",   "ø", "å"},
       " ",
       ". "},
      {{"пр", "ив", "ет", "мир", "ова", "ние", "ст", "во", "ка", "ль", "ы", "ё", "щ", "ж"},
       " ",
       ". "},
      {{"κό", "σμ", "ος", "αλ", "ή", "θε", "ια", "πο", "λύ", "τη", "ρα", "ω"}, " ", ". "},
      {{"你", "好", "世", "界", "人", "工", "智", "能", "学", "习",
        "数", "据", "模", "型", "的", "是", "在", "中", "国", "大"},
       "",
       "。"},
      {{"こん", "にち", "は", "東京", "の", "です", "カタ", "カナ", "ひら", "がな", "ます"},
       "",
       "。"},
      {{"안녕", "하세", "요", "세계", "한국", "어", "문장", "을", "토큰", "화"}, " ", ". "},
      {{"مر", "حبا", "بال", "عا", "لم", "الل", "غة", "كَ", "تَ", "بَ"}, " ", ". "},
      {{"नम", "स्ते", "दु", "नि", "या", "हि", "न्दी", "भा", "षा", "क़"}, " ", "। "},
      {{"สวั", "สดี", "ชาว", "โลก", "ภา", "ษา", "ไทย", "น้ำ"}, "", " "},
  };
  return kScripts;
}

const std::vector<const char*>& Extras() {
  static const std::vector<const char*> kExtras = {
      "🚀",
      "😀",
      "👍🏽",
      "👨‍👩‍👧",
      "🇯🇵",
      "❤️",
      "✨",
      "\n",
      "\n\n",
      "  ",
      "\t",
      "   ",
      "...",
      "!",
      "?",
      ", ",
      ": ",
      "(",
      ")",
      "\"",
      "'s",
      "'re",
      "don't",
      "1",
      "42",
      "3.14",
      "2026",
      "100%",
      "$5",
      "€9,99",
      "x²",
      "½",
      "def f(x):\n    return x + 1\n",
      "for (int i = 0; i < n; ++i) {\n  sum += a[i];\n}\n",
      "{\"key\": [1, 2, 3], \"ok\": true}",
      "https://example.com/a?b=c",
      "<div class=\"c\">",
  };
  return kExtras;
}

std::string GenerateText(size_t bytes, uint64_t seed) {
  Rng rng(seed);
  std::string text;
  text.reserve(bytes + 4096);
  while (text.size() < bytes) {
    const Script& script = Scripts()[rng.Below(Scripts().size())];
    const size_t sentences = 1 + rng.Below(4);
    for (size_t s = 0; s < sentences; ++s) {
      const size_t words = 3 + rng.Below(12);
      for (size_t w = 0; w < words; ++w) {
        if (w > 0) text += script.space;
        const size_t syllables = 1 + rng.Below(4);
        for (size_t k = 0; k < syllables; ++k)
          text += script.syllables[rng.Below(script.syllables.size())];
        if (rng.Below(10) == 0) {
          text += script.space;
          text += Extras()[rng.Below(Extras().size())];
        }
      }
      text += script.sentence_end;
    }
    text += rng.Below(3) == 0 ? "\n\n" : "\n";
  }
  return text;
}

uint64_t Fnv1a(const std::vector<int32_t>& ids) {
  uint64_t h = 1469598103934665603ull;
  for (int32_t id : ids) {
    const auto v = static_cast<uint32_t>(id);
    for (int k = 0; k < 4; ++k) {
      h ^= (v >> (8 * k)) & 0xFF;
      h *= 1099511628211ull;
    }
  }
  return h;
}

const char* Flag(int argc, char** argv, const char* name, const char* fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  }
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const char* tokenizer_path = Flag(argc, argv, "--tokenizer", nullptr);
  if (tokenizer_path == nullptr) {
    std::fprintf(stderr,
                 "usage: tokenizer_bench --tokenizer tokenizer.json [--megabytes 4] "
                 "[--repeat 5] [--seed 1] [--text-out FILE]\n");
    return 2;
  }
  const double megabytes = std::atof(Flag(argc, argv, "--megabytes", "4"));
  const int repeat = std::max(1, std::atoi(Flag(argc, argv, "--repeat", "5")));
  const uint64_t seed = std::strtoull(Flag(argc, argv, "--seed", "1"), nullptr, 10);
  const char* text_out = Flag(argc, argv, "--text-out", nullptr);

  const std::string text = GenerateText(static_cast<size_t>(megabytes * 1e6), seed);
  if (text_out != nullptr) {
    std::ofstream(text_out, std::ios::binary).write(text.data(), text.size());
  }
  Timer load_timer;
  absl::StatusOr<qwen::gateway::Tokenizer> tok = qwen::gateway::Tokenizer::FromFile(tokenizer_path);
  if (!tok.ok()) {
    std::fprintf(stderr, "%s\n", std::string(tok.status().message()).c_str());
    return 1;
  }
  std::printf("load: %.3f s CPU, %.3f s wall (%s)\n", load_timer.CpuSeconds(),
              load_timer.WallSeconds(), tokenizer_path);
  const double mb = text.size() / 1e6;
  std::printf("text: %.2f MB, seed %llu; rates are per CPU second (wall in parentheses)\n", mb,
              static_cast<unsigned long long>(seed));

  // Whole text in one call; the first run starts with an empty word cache.
  std::vector<int32_t> ids;
  Best best;
  double first = 0;
  for (int r = 0; r < repeat; ++r) {
    Timer t;
    ids = *tok->Encode(text);
    if (r == 0) first = t.CpuSeconds();
    best.Add(t);
  }
  std::printf("encode whole text: %zu tokens, fnv1a %016llx\n", ids.size(),
              static_cast<unsigned long long>(Fnv1a(ids)));
  std::printf("  first run %.1f MB/s; best of %d: %.1f MB/s (%.1f), %.2f M tokens/s\n", mb / first,
              repeat, mb / best.cpu, mb / best.wall, ids.size() / best.cpu / 1e6);

  // Line by line (request-sized inputs: one Encode call per line, without the '\n').
  std::vector<std::string_view> lines;
  for (size_t pos = 0; pos <= text.size();) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    lines.push_back(std::string_view(text).substr(pos, nl - pos));
    pos = nl + 1;
  }
  best = Best();
  size_t line_tokens = 0;
  std::vector<int32_t> all_line_ids;
  for (int r = 0; r < repeat; ++r) {
    Timer t;
    line_tokens = 0;
    for (std::string_view line : lines) {
      std::vector<int32_t> line_ids = *tok->Encode(line);
      line_tokens += line_ids.size();
      if (r == 0) all_line_ids.insert(all_line_ids.end(), line_ids.begin(), line_ids.end());
    }
    best.Add(t);
  }
  std::printf("encode per line (%zu lines): %zu tokens, fnv1a %016llx\n", lines.size(), line_tokens,
              static_cast<unsigned long long>(Fnv1a(all_line_ids)));
  std::printf("  best of %d: %.1f MB/s (%.1f), %.2f M tokens/s\n", repeat, mb / best.cpu,
              mb / best.wall, line_tokens / best.cpu / 1e6);

  best = Best();
  std::string decoded;
  for (int r = 0; r < repeat; ++r) {
    Timer t;
    decoded = *tok->Decode(ids);
    best.Add(t);
  }
  std::printf("decode: round trip %s; best of %d: %.1f MB/s (%.1f), %.2f M tokens/s\n",
              decoded == text ? "exact" : "DIFFERS", repeat, mb / best.cpu, mb / best.wall,
              ids.size() / best.cpu / 1e6);
  return decoded == text ? 0 : 1;
}
