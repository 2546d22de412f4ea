#include "tokenizer/pre_tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <map>

#include <fmt/format.h>

#include "base/logging.h"

namespace tf {
namespace {

// The classic GPT-2 word split.
constexpr const char* kGpt2 =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
// Llama 3: case-insensitive contractions, digits in groups of up to three.
constexpr const char* kLlama3 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
// Qwen2: as Llama 3 but every digit alone.
constexpr const char* kQwen2 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr const char* kCjk = "[\\x{4E00}-\\x{9FA5}\\x{0800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+";

using PatternList = std::vector<std::string>;

const std::map<std::string, PatternList, std::less<>>& Registry() {
  static const auto* registry = [] {
    const PatternList gpt2 = {kGpt2};
    const PatternList llama3 = {kLlama3};
    const PatternList qwen2 = {kQwen2};
    const PatternList starcoder = {"\\p{N}", kGpt2};
    const PatternList deepseek_llm = {
        "[\r\n]",
        // Cased letters (Lu, Ll, Lt), written as code points so that no editor
        // or normalizer can fold them into their canonical equivalents.
        "\\s?["
        "\\x{0041}-\\x{005A}\\x{0061}-\\x{007A}\\x{00B5}\\x{00C0}-\\x{00D6}"
        "\\x{00D8}-\\x{00F6}\\x{00F8}-\\x{01BA}\\x{01BC}-\\x{01BF}\\x{01C4}-\\x{0293}"
        "\\x{0295}-\\x{02AF}\\x{0370}-\\x{0373}\\x{0376}-\\x{0377}\\x{037B}-\\x{037D}"
        "\\x{037F}\\x{0386}\\x{0388}-\\x{038A}\\x{038C}\\x{038E}-\\x{03A1}"
        "\\x{03A3}-\\x{03F5}\\x{03F7}-\\x{0481}\\x{048A}-\\x{052F}\\x{0531}-\\x{0556}"
        "\\x{10A0}-\\x{10C5}\\x{13A0}-\\x{13F5}\\x{13F8}-\\x{13FD}\\x{1C90}-\\x{1CBA}"
        "\\x{1CBD}-\\x{1CBF}\\x{1D00}-\\x{1D2B}\\x{1D6B}-\\x{1D77}\\x{1D79}-\\x{1D9A}"
        "\\x{1E00}-\\x{1F15}\\x{1F18}-\\x{1F1D}\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{1F4D}"
        "\\x{1F50}-\\x{1F57}\\x{1F59}\\x{1F5B}\\x{1F5D}\\x{1F5F}-\\x{1F7D}"
        "\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}"
        "\\x{1FC6}-\\x{1FCC}\\x{1FD0}-\\x{1FD3}\\x{1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}"
        "\\x{1FF2}-\\x{1FF4}\\x{1FF6}-\\x{1FFC}\\x{2102}\\x{2107}\\x{210A}-\\x{2113}"
        "\\x{2115}\\x{2119}-\\x{211D}\\x{2124}\\x{2126}\\x{2128}\\x{212A}-\\x{212D}"
        "\\x{212F}-\\x{2134}\\x{2139}\\x{213C}-\\x{213F}\\x{2145}-\\x{2149}\\x{214E}"
        "\\x{2183}-\\x{2184}\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}\\x{2CEB}-\\x{2CEE}"
        "\\x{2CF2}-\\x{2CF3}\\x{A640}-\\x{A66D}\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}"
        "\\x{A771}-\\x{A787}\\x{A78B}-\\x{A78E}\\x{AB70}-\\x{ABBF}\\x{FB00}-\\x{FB06}"
        "\\x{FB13}-\\x{FB17}\\x{FF21}-\\x{FF3A}\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}"
        "\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{10CB2}"
        "\\x{10CC0}-\\x{10CF2}\\x{118A0}-\\x{118DF}\\x{1E900}-\\x{1E943}"
        "]+",
        "\\s?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3000}-\\x{3002}]+",
        "\\s+$",
        kCjk,
        "\\p{N}+",
    };
    const PatternList deepseek_coder = {"[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", kCjk, "\\p{N}"};
    const PatternList deepseek_v3 = {
        "\\p{N}{1,3}",
        "[\\x{4E00}-\\x{9FA5}\\x{3040}-\\x{309F}\\x{30A0}-\\x{30FF}]+",
        "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+|"
        " ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
    };
    const PatternList falcon = {"[\\p{P}\\$\\+<=>\\^~\\|`]+", kGpt2, "[0-9][0-9][0-9]"};
    const PatternList bloom = {" ?[^(\\s|.,!?\\x{2026}\\x{3002}\\x{FF0C}\\x{3001}\\x{0964}\\x{06D4}\\x{060C})]+"};
    const PatternList tekken = {
        "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+|"
        "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*|"
        "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)",
    };
    const PatternList gpt4o = {
        "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+"
        "(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+"
        "[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}|"
        " ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    };
    const PatternList default_list = {"[\\p{P}\\$\\+<=>\\^~\\|]+", kGpt2, "\\p{N}+", "[0-9][0-9][0-9]"};
    auto* r = new std::map<std::string, PatternList, std::less<>>();
    for (const char* n : {"default"}) (*r)[n] = default_list;
    for (const char* n : {"llama3", "llama-v3", "llama-bpe", "falcon3", "smaug-bpe", "dbrx",
                          "pixtral", "chatglm-bpe", "glm4"}) {
      (*r)[n] = llama3;
    }
    for (const char* n : {"qwen2", "deepseek-r1-qwen", "stablelm2", "megrez", "hunyuan"}) (*r)[n] = qwen2;
    for (const char* n : {"gpt-2", "gpt2", "phi-2", "mpt", "olmo", "jais", "gpt-neox", "roberta-bpe",
                          "jina-es", "jina-de", "jina-v1-en", "jina-v2-es", "jina-v2-de",
                          "jina-v2-code", "gigachat", "trillion"}) {
      (*r)[n] = gpt2;
    }
    for (const char* n : {"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone",
                          "minerva-7b"}) {
      (*r)[n] = starcoder;
    }
    (*r)["deepseek-llm"] = deepseek_llm;
    (*r)["deepseek-coder"] = deepseek_coder;
    (*r)["deepseek-v3"] = deepseek_v3;
    (*r)["falcon"] = falcon;
    for (const char* n : {"poro-chat", "bloom", "gpt3-finnish"}) (*r)[n] = bloom;
    (*r)["viking"] = {bloom[0], "\\p{N}"};
    (*r)["tekken"] = tekken;
    for (const char* n : {"gpt-4o", "llama4"}) (*r)[n] = gpt4o;
    return r;
  }();
  return *registry;
}

}  // namespace

struct PreTokenizer::Compiled {
  pcre2_code* code = nullptr;
  ~Compiled() {
    if (code != nullptr) pcre2_code_free(code);
  }
};

namespace {

// Per-thread JIT stack (1 MiB) and match context: Split may run on many
// server threads at once, and long runs of whitespace need more than the
// default 32 KiB stack.
struct MatchScratch {
  pcre2_jit_stack* jit_stack = nullptr;
  pcre2_match_context* context = nullptr;
  MatchScratch() {
    jit_stack = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, nullptr);
    context = pcre2_match_context_create(nullptr);
    if (jit_stack != nullptr && context != nullptr) pcre2_jit_stack_assign(context, nullptr, jit_stack);
  }
  ~MatchScratch() {
    if (context != nullptr) pcre2_match_context_free(context);
    if (jit_stack != nullptr) pcre2_jit_stack_free(jit_stack);
  }
};

struct MatchData {
  pcre2_match_data* data;
  explicit MatchData(const pcre2_code* code) : data(pcre2_match_data_create_from_pattern(code, nullptr)) {}
  ~MatchData() { pcre2_match_data_free(data); }
};

}  // namespace

PreTokenizer::~PreTokenizer() = default;

StatusOr<std::unique_ptr<PreTokenizer>> PreTokenizer::ForName(std::string_view pre_name) {
  const auto& registry = Registry();
  auto it = registry.find(pre_name);
  if (it == registry.end()) {
    return UnimplementedError(fmt::format("key 'tokenizer.ggml.pre': pre-tokenizer '{}' is not supported",
                                          pre_name));
  }
  return FromPatterns(it->second);
}

StatusOr<std::unique_ptr<PreTokenizer>> PreTokenizer::FromPatterns(const std::vector<std::string>& patterns) {
  auto pre = std::unique_ptr<PreTokenizer>(new PreTokenizer());
  for (const std::string& pattern : patterns) {
    int error_code = 0;
    PCRE2_SIZE error_offset = 0;
    auto compiled = std::make_unique<Compiled>();
    compiled->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY | PCRE2_NO_UTF_CHECK,
                                   &error_code, &error_offset, nullptr);
    if (compiled->code == nullptr) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(error_code, message, sizeof(message));
      return InternalError(fmt::format("pre-tokenizer pattern '{}' at {}: {}", pattern, error_offset,
                                       reinterpret_cast<const char*>(message)));
    }
    pcre2_jit_compile(compiled->code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter
    pre->regexes_.push_back(std::move(compiled));
  }
  return pre;
}

void PreTokenizer::SplitOne(const Compiled& re, std::string_view piece,
                            std::vector<std::string_view>* out) const {
  thread_local MatchScratch scratch;
  MatchData match(re.code);
  size_t start = 0;  // first byte not yet emitted
  size_t search = 0;
  while (search < piece.size()) {
    const int rc = pcre2_match(re.code, reinterpret_cast<PCRE2_SPTR>(piece.data()), piece.size(),
                               search, PCRE2_NO_UTF_CHECK, match.data, scratch.context);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      // A resource limit on a pathological piece: keep it whole rather than fail.
      TF_LOG_WARN("pre-tokenizer: PCRE2 error {} on a {}-byte piece; kept unsplit", rc, piece.size());
      break;
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(match.data);
    const size_t match_begin = ov[0], match_end = ov[1];
    if (match_end == match_begin) {  // empty match: step over one character
      search = match_end + 1;
      while (search < piece.size() && (static_cast<uint8_t>(piece[search]) & 0xC0) == 0x80) ++search;
      continue;
    }
    if (match_begin > start) out->push_back(piece.substr(start, match_begin - start));
    out->push_back(piece.substr(match_begin, match_end - match_begin));
    start = search = match_end;
  }
  if (start < piece.size()) out->push_back(piece.substr(start));
}

std::vector<std::string_view> PreTokenizer::Split(std::string_view text) const {
  std::vector<std::string_view> pieces;
  if (text.empty()) return pieces;
  pieces.push_back(text);
  for (const auto& re : regexes_) {
    std::vector<std::string_view> next;
    next.reserve(pieces.size() * 2);
    for (std::string_view piece : pieces) SplitOne(*re, piece, &next);
    pieces = std::move(next);
  }
  return pieces;
}

std::vector<std::string> PreTokenizer::KnownNames() {
  std::vector<std::string> names;
  for (const auto& [name, patterns] : Registry()) names.push_back(name);
  return names;
}

}  // namespace tf
