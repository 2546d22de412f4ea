// The vocabulary stored in a GGUF file's `tokenizer.ggml.*` keys: token
// texts, scores, types, BPE merges, special token ids and flags. Loading
// validates everything (ids in range, arrays of matching length, byte tokens
// well formed); tokenizers only read it.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"

namespace tf {

class GgufFile;

enum class VocabType { kSpm, kBpe, kWpm };

// Numbering of `tokenizer.ggml.token_type`.
enum class TokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

struct TokenData {
  std::string text;
  float score = 0.0f;
  TokenType type = TokenType::kNormal;
  bool lstrip = false;  // swallow whitespace before this special token
  bool rstrip = false;  // swallow whitespace after it
};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

class Vocab {
 public:
  static StatusOr<Vocab> FromGguf(const GgufFile& file);

  VocabType type() const { return type_; }
  std::string_view type_name() const;
  const std::string& pre() const { return pre_; }
  int32_t size() const { return static_cast<int32_t>(tokens_.size()); }
  const TokenData& token(int32_t id) const { return tokens_[id]; }
  bool IsValidId(int64_t id) const { return id >= 0 && id < size(); }

  std::optional<int32_t> Find(std::string_view text) const;
  // Rank of the merge "left right" (lower merges first); nullopt if none.
  std::optional<int32_t> MergeRank(std::string_view left, std::string_view right) const;
  size_t num_merges() const { return merge_ranks_.size(); }
  // The token for one raw byte: "<0xXX>" if present, else the one-byte
  // string, else the unknown token; nullopt when none of these exist.
  std::optional<int32_t> ByteToken(uint8_t byte) const;
  // For kByte tokens: the byte they stand for.
  std::optional<uint8_t> TokenByte(int32_t id) const;

  int32_t bos_id() const { return bos_id_; }  // -1 when the vocabulary has none
  int32_t eos_id() const { return eos_id_; }
  int32_t eot_id() const { return eot_id_; }
  int32_t unk_id() const { return unk_id_; }
  int32_t sep_id() const { return sep_id_; }
  int32_t pad_id() const { return pad_id_; }
  int32_t cls_id() const { return cls_id_; }
  int32_t mask_id() const { return mask_id_; }
  bool add_bos() const { return add_bos_; }
  bool add_eos() const { return add_eos_; }
  bool add_space_prefix() const { return add_space_prefix_; }
  // Whether a generated `id` ends the turn (EOS, EOT and known end tokens).
  bool IsEndOfGeneration(int32_t id) const;
  const std::vector<int32_t>& end_of_generation_ids() const { return eog_ids_; }
  // Control, user-defined and unknown tokens: what special-token matching
  // looks for in raw text.
  const std::vector<int32_t>& special_ids() const { return special_ids_; }

 private:
  Status LoadTokens(const GgufFile& file);
  Status LoadMerges(const GgufFile& file);
  Status LoadSpecialIds(const GgufFile& file);
  Status LoadFlags(const GgufFile& file);
  void FinishSpecialTokens(const std::string& model_name);

  VocabType type_ = VocabType::kSpm;
  std::string pre_;
  std::vector<TokenData> tokens_;
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> token_to_id_;
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> merge_ranks_;
  std::array<int32_t, 256> byte_tokens_{};
  int32_t bos_id_ = -1, eos_id_ = -1, eot_id_ = -1, eom_id_ = -1, unk_id_ = -1;
  int32_t sep_id_ = -1, pad_id_ = -1, cls_id_ = -1, mask_id_ = -1;
  bool add_bos_ = false, add_eos_ = false, add_space_prefix_ = false;
  std::vector<int32_t> eog_ids_;
  std::vector<int32_t> special_ids_;
};

}  // namespace tf
