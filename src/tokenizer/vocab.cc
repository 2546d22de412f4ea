#include "tokenizer/vocab.h"

#include <algorithm>

#include <fmt/format.h>

#include "base/logging.h"
#include "gguf/gguf_file.h"

namespace tf {
namespace {

constexpr std::string_view kPrefix = "tokenizer.ggml.";

std::string Key(std::string_view name) { return std::string(kPrefix) + std::string(name); }

// Texts that end a turn in the chat formats we know; a control token with one
// of these texts stops generation even when the file names no EOT id.
constexpr std::string_view kEndOfTurnTexts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
    "<｜end▁of▁sentence｜>", "<|EOT|>", "<EOT>", "<|END_OF_TURN_TOKEN|>", "<|return|>",
    "<|eom_id|>", "<｜EOT｜>",
};

// "<0x0A>" -> 0x0A; anything else (including "<0x-1>", "<0xZZ>") -> nullopt.
std::optional<uint8_t> ParseByteToken(std::string_view text) {
  if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return std::nullopt;
  int value = 0;
  for (char c : text.substr(3, 2)) {
    value <<= 4;
    if (c >= '0' && c <= '9') value |= c - '0';
    else if (c >= 'A' && c <= 'F') value |= c - 'A' + 10;
    else if (c >= 'a' && c <= 'f') value |= c - 'a' + 10;
    else return std::nullopt;
  }
  return static_cast<uint8_t>(value);
}

}  // namespace

StatusOr<Vocab> Vocab::FromGguf(const GgufFile& file) {
  Vocab v;
  TF_ASSIGN_OR_RETURN(std::string model, file.GetString(Key("model")));
  if (model == "llama") {
    v.type_ = VocabType::kSpm;
  } else if (model == "gpt2") {
    v.type_ = VocabType::kBpe;
  } else if (model == "bert") {
    v.type_ = VocabType::kWpm;
  } else if (model == "no_vocab" || model == "none") {
    return FailedPreconditionError("this model file has no vocabulary (tokenizer.ggml.model = " + model + ")");
  } else {
    return UnimplementedError(fmt::format("key 'tokenizer.ggml.model': tokenizer '{}' is not supported "
                                          "(supported: llama, gpt2, bert)", model));
  }
  TF_ASSIGN_OR_RETURN(v.pre_, file.GetStringOr(Key("pre"), "default"));
  TF_RETURN_IF_ERROR(v.LoadTokens(file));
  if (v.type_ == VocabType::kBpe) TF_RETURN_IF_ERROR(v.LoadMerges(file));
  TF_RETURN_IF_ERROR(v.LoadSpecialIds(file));
  TF_RETURN_IF_ERROR(v.LoadFlags(file));
  TF_ASSIGN_OR_RETURN(std::string name, file.GetStringOr("general.name", ""));
  v.FinishSpecialTokens(name);
  return v;
}

std::string_view Vocab::type_name() const {
  switch (type_) {
    case VocabType::kSpm: return "spm";
    case VocabType::kBpe: return "bpe";
    case VocabType::kWpm: return "wpm";
  }
  return "?";
}

Status Vocab::LoadTokens(const GgufFile& file) {
  TF_ASSIGN_OR_RETURN(const GgufArray* texts, file.GetArray(Key("tokens")));
  if (texts->elem_type != GgufType::kString) {
    return InvalidArgumentError("key 'tokenizer.ggml.tokens': expected an array of strings");
  }
  const size_t n = texts->strings.size();
  if (n == 0 || n > static_cast<size_t>(INT32_MAX)) {
    return InvalidArgumentError(fmt::format("key 'tokenizer.ggml.tokens': {} tokens", n));
  }
  const GgufArray* scores = nullptr;
  const GgufArray* types = nullptr;
  if (file.Find(Key("scores")) != nullptr) {
    TF_ASSIGN_OR_RETURN(scores, file.GetArray(Key("scores")));
    if (scores->size() != n || !scores->FloatAt(0)) {
      return InvalidArgumentError(fmt::format("key 'tokenizer.ggml.scores': {} numbers expected, file has {} {}",
                                              n, scores->size(), GgufTypeName(scores->elem_type)));
    }
  }
  if (file.Find(Key("token_type")) != nullptr) {
    TF_ASSIGN_OR_RETURN(types, file.GetArray(Key("token_type")));
    if (types->size() != n || !types->IntAt(0)) {
      return InvalidArgumentError(fmt::format("key 'tokenizer.ggml.token_type': {} integers expected, file has {} {}",
                                              n, types->size(), GgufTypeName(types->elem_type)));
    }
  }
  tokens_.resize(n);
  token_to_id_.reserve(n);
  byte_tokens_.fill(-1);
  for (size_t i = 0; i < n; ++i) {
    TokenData& t = tokens_[i];
    t.text = texts->strings[i];
    if (scores != nullptr) t.score = static_cast<float>(*scores->FloatAt(i));
    if (types != nullptr) {
      const int64_t type = types->IntAt(i).value_or(-1);
      if (type < 0 || type > static_cast<int64_t>(TokenType::kByte)) {
        return InvalidArgumentError(fmt::format("key 'tokenizer.ggml.token_type': token {} has type {}", i, type));
      }
      t.type = static_cast<TokenType>(type);
    }
    if (t.type == TokenType::kByte) {
      auto byte = ParseByteToken(t.text);
      if (!byte) {
        return InvalidArgumentError(fmt::format("token {}: byte token '{}' is not of the form <0xHH>", i, t.text));
      }
      byte_tokens_[*byte] = static_cast<int32_t>(i);
    }
    // Duplicate texts keep the first id, as the reference implementations do.
    token_to_id_.emplace(t.text, static_cast<int32_t>(i));
  }
  return Status::Ok();
}

Status Vocab::LoadMerges(const GgufFile& file) {
  TF_ASSIGN_OR_RETURN(const GgufArray* merges, file.GetArray(Key("merges")));
  if (merges->elem_type != GgufType::kString) {
    return InvalidArgumentError("key 'tokenizer.ggml.merges': expected an array of strings");
  }
  merge_ranks_.reserve(merges->strings.size());
  for (size_t i = 0; i < merges->strings.size(); ++i) {
    const std::string& m = merges->strings[i];
    // Split at the first space after the first character ("Ġ Ġ" is valid).
    const size_t space = m.size() > 1 ? m.find(' ', 1) : std::string::npos;
    if (space == std::string::npos) {
      return InvalidArgumentError(fmt::format("key 'tokenizer.ggml.merges': merge {} ('{}') has no space", i, m));
    }
    merge_ranks_.emplace(m, static_cast<int32_t>(i));
  }
  return Status::Ok();
}

Status Vocab::LoadSpecialIds(const GgufFile& file) {
  if (type_ == VocabType::kSpm) {
    bos_id_ = 1, eos_id_ = 2, unk_id_ = 0;
  } else if (type_ == VocabType::kWpm) {
    unk_id_ = 100, sep_id_ = 102, pad_id_ = 0, cls_id_ = 101, mask_id_ = 103;
    bos_id_ = cls_id_, eos_id_ = sep_id_;
  }
  const std::pair<const char*, int32_t*> keys[] = {
      {"bos_token_id", &bos_id_}, {"eos_token_id", &eos_id_}, {"eot_token_id", &eot_id_},
      {"eom_token_id", &eom_id_}, {"unknown_token_id", &unk_id_}, {"seperator_token_id", &sep_id_},
      {"padding_token_id", &pad_id_}, {"cls_token_id", &cls_id_}, {"mask_token_id", &mask_id_},
  };
  for (const auto& [name, slot] : keys) {
    if (file.Find(Key(name)) == nullptr) continue;
    TF_ASSIGN_OR_RETURN(int64_t id, file.GetInt(Key(name)));
    if (!IsValidId(id)) {
      TF_LOG_WARN("tokenizer.ggml.{} = {} is outside the vocabulary of {}; ignored", name, id, size());
      *slot = -1;
      continue;
    }
    *slot = static_cast<int32_t>(id);
  }
  for (int32_t* slot : {&bos_id_, &eos_id_, &unk_id_, &sep_id_, &pad_id_, &cls_id_, &mask_id_}) {
    if (!IsValidId(*slot)) *slot = -1;  // defaults beyond a small vocabulary
  }
  return Status::Ok();
}

Status Vocab::LoadFlags(const GgufFile& file) {
  const bool is_spm = type_ == VocabType::kSpm;
  TF_ASSIGN_OR_RETURN(add_bos_, file.GetBoolOr(Key("add_bos_token"), type_ != VocabType::kBpe));
  TF_ASSIGN_OR_RETURN(add_eos_, file.GetBoolOr(Key("add_eos_token"), type_ == VocabType::kWpm));
  TF_ASSIGN_OR_RETURN(add_space_prefix_, file.GetBoolOr(Key("add_space_prefix"), is_spm));
  if (add_bos_ && bos_id_ < 0) {
    return InvalidArgumentError("tokenizer.ggml.add_bos_token is set but the vocabulary has no BOS token");
  }
  if (add_eos_ && eos_id_ < 0) {
    return InvalidArgumentError("tokenizer.ggml.add_eos_token is set but the vocabulary has no EOS token");
  }
  return Status::Ok();
}

void Vocab::FinishSpecialTokens(const std::string& model_name) {
  for (int32_t id = 0; id < size(); ++id) {
    const TokenType t = tokens_[id].type;
    if (t == TokenType::kControl || t == TokenType::kUserDefined || t == TokenType::kUnknown) {
      if (!tokens_[id].text.empty()) special_ids_.push_back(id);
    }
  }
  // Longest first, so "<|im_end|>" wins over a shorter token it contains.
  std::stable_sort(special_ids_.begin(), special_ids_.end(), [this](int32_t a, int32_t b) {
    return tokens_[a].text.size() > tokens_[b].text.size();
  });
  // Phi-3's added tokens strip the whitespace that follows them.
  std::string lower = model_name;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower.find("phi-3") != std::string::npos || lower.find("phi3") != std::string::npos) {
    for (int32_t id : special_ids_) tokens_[id].rstrip = true;
    if (auto id = Find("</s>")) tokens_[*id].rstrip = true;
    for (const char* t : {"<unk>", "<s>", "<|endoftext|>"}) {
      if (auto id = Find(t)) tokens_[*id].rstrip = false;
    }
  }
  for (int32_t id : {eos_id_, eot_id_, eom_id_}) {
    if (id >= 0) eog_ids_.push_back(id);
  }
  for (std::string_view text : kEndOfTurnTexts) {
    auto id = Find(text);
    if (id && tokens_[*id].type == TokenType::kControl &&
        std::find(eog_ids_.begin(), eog_ids_.end(), *id) == eog_ids_.end()) {
      eog_ids_.push_back(*id);
    }
  }
}

std::optional<int32_t> Vocab::Find(std::string_view text) const {
  auto it = token_to_id_.find(text);
  if (it == token_to_id_.end()) return std::nullopt;
  return it->second;
}

std::optional<int32_t> Vocab::MergeRank(std::string_view left, std::string_view right) const {
  std::string key;
  key.reserve(left.size() + 1 + right.size());
  key.append(left);
  key.push_back(' ');
  key.append(right);
  auto it = merge_ranks_.find(key);
  if (it == merge_ranks_.end()) return std::nullopt;
  return it->second;
}

std::optional<int32_t> Vocab::ByteToken(uint8_t byte) const {
  if (byte_tokens_[byte] >= 0) return byte_tokens_[byte];
  if (auto id = Find(std::string_view(reinterpret_cast<const char*>(&byte), 1))) return id;
  if (unk_id_ >= 0) return unk_id_;
  return std::nullopt;
}

std::optional<uint8_t> Vocab::TokenByte(int32_t id) const {
  if (!IsValidId(id) || tokens_[id].type != TokenType::kByte) return std::nullopt;
  return ParseByteToken(tokens_[id].text);
}

bool Vocab::IsEndOfGeneration(int32_t id) const {
  return std::find(eog_ids_.begin(), eog_ids_.end(), id) != eog_ids_.end();
}

}  // namespace tf
