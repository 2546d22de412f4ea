// Writes a vocabulary into a GGUF file being built: either a copy of
// another file's `tokenizer.*` keys, or tokenfab's built-in byte-level BPE
// vocabulary (256 byte tokens, deterministic letter merges, BOS/EOS), which
// llama.cpp and other GGUF engines load as an ordinary "gpt2" tokenizer.
#pragma once

#include <cstdint>

#include "base/status.h"

namespace tf {

class GgufFile;
class GgufWriter;

// Returns the vocabulary size written.
StatusOr<int64_t> CopyVocab(const GgufFile& from, GgufWriter* to);

// n_vocab >= 258 (bytes + BOS + EOS).
Status WriteBuiltinByteVocab(int64_t n_vocab, GgufWriter* to);

}  // namespace tf
