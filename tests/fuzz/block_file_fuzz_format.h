// The one block-file format the block-file fuzzer checks against, shared
// with the seed writer so that its valid seed really is valid.
#pragma once

#include "kvstore/block_file.h"

namespace tf::fuzz {

inline BlockFileFormat FuzzBlockFileFormat() {
  BlockFileFormat f;
  f.model_root = RootBlockHash("fuzz-model");
  f.kv_type = 30;  // bf16
  f.block_size = 4;
  f.n_layer = 2;
  f.payload_bytes = 64;
  return f;
}

}  // namespace tf::fuzz
