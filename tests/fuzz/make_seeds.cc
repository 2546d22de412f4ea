// Writes the fuzzers' seed corpora: valid inputs built from the fixtures,
// plus one input per known attack class against LLM servers and GGUF
// readers (the "anchor" cases: counts near 2^64, n_dims 5, string length
// past the end of the file, alignment 0 and 2^31, element-count overflow,
// token length overflow, byte token <0x-1>, n_probs / top_logprobs -1 and
// huge, negative or huge n, NaN temperature, max_tokens 0, 10 000 stop
// strings, invalid UTF-8 everywhere).
// Usage: make_seeds OUT_DIR FIXTURES_DIR
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fuzz/block_file_fuzz_format.h"
#include "cluster/kv_transfer_frame.h"
#include "kvstore/block_file.h"

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

namespace {

void Write(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

// Little-endian GGUF pieces.
struct Gguf {
  std::string b;
  void U32(uint32_t v) { b.append(reinterpret_cast<const char*>(&v), 4); }
  void U64(uint64_t v) { b.append(reinterpret_cast<const char*>(&v), 8); }
  void Str(const std::string& s) { U64(s.size()); b += s; }
  void Header(uint64_t tensors, uint64_t kvs) {
    b = "GGUF";
    U32(3);
    U64(tensors);
    U64(kvs);
  }
  void KvU32(const std::string& key, uint32_t v) { Str(key); U32(4); U32(v); }
  void KvStr(const std::string& key, const std::string& v) { Str(key); U32(8); Str(v); }
  void Tensor(const std::string& name, std::vector<uint64_t> dims, uint32_t type, uint64_t offset) {
    Str(name);
    U32(static_cast<uint32_t>(dims.size()));
    for (uint64_t d : dims) U64(d);
    U32(type);
    U64(offset);
  }
  void Pad(size_t align) { while (b.size() % align) b += '\0'; }
};

void GgufAnchors(const fs::path& dir) {
  Gguf g;
  g.Header(0, 0xffffffffffffffffull);  // kv count near 2^64
  Write(dir / "anchor_kv_count_2e64", g.b);
  g.Header(0xfffffffffffffff0ull, 0);  // tensor count near 2^64
  Write(dir / "anchor_tensor_count_2e64", g.b);
  g.Header(1, 0);
  g.Tensor("t", {2, 2, 2, 2, 2}, 0, 0);  // n_dims 5
  Write(dir / "anchor_n_dims_5", g.b);
  g.Header(0, 1);
  g.U64(1ull << 40);  // key length far past the end of the file
  g.b += "key";
  Write(dir / "anchor_string_past_eof", g.b);
  for (uint32_t align : {0u, 0x80000000u, 3u}) {
    g.Header(1, 1);
    g.KvU32("general.alignment", align);
    g.Tensor("t", {4}, 0, 0);
    g.Pad(32);
    g.b += std::string(16, '\1');
    Write(dir / ("anchor_alignment_" + std::to_string(align)), g.b);
  }
  g.Header(1, 0);
  g.Tensor("t", {1ull << 32, 1ull << 32, 1ull << 32}, 0, 0);  // element count overflows 64 bits
  Write(dir / "anchor_element_count_overflow", g.b);
  g.Header(2, 0);
  g.Tensor("a", {8}, 0, 0);
  g.Tensor("b", {8}, 0, 16);  // overlaps a
  g.Pad(32);
  g.b += std::string(64, '\2');
  Write(dir / "anchor_overlapping_tensors", g.b);
  // Vocabulary anchors: an array of strings whose count and one length lie.
  g.Header(0, 2);
  g.KvStr("tokenizer.ggml.model", "llama");
  g.Str("tokenizer.ggml.tokens");
  g.U32(9);
  g.U32(8);
  g.U64(0x4000000000000000ull);  // 2^62 tokens
  g.Str("<s>");
  Write(dir / "anchor_token_count_overflow", g.b);
  g.Header(0, 2);
  g.KvStr("tokenizer.ggml.model", "llama");
  g.Str("tokenizer.ggml.tokens");
  g.U32(9);
  g.U32(8);
  g.U64(2);
  g.U64(0xffffffffffffffffull);  // token length overflow
  g.b += "x";
  Write(dir / "anchor_token_length_overflow", g.b);
  // A complete small SPM vocabulary with a malformed byte token.
  g.Header(0, 4);
  g.KvStr("tokenizer.ggml.model", "llama");
  g.Str("tokenizer.ggml.tokens");
  g.U32(9);
  g.U32(8);
  g.U64(4);
  for (const char* t : {"<unk>", "<s>", "<0x-1>", "\xe2\x96\x81" "a"}) g.Str(t);
  g.Str("tokenizer.ggml.token_type");
  g.U32(9);
  g.U32(5);
  g.U64(4);
  for (uint32_t t : {2u, 3u, 6u, 1u}) g.U32(t);
  g.Str("tokenizer.ggml.scores");
  g.U32(9);
  g.U32(6);
  g.U64(4);
  for (int i = 0; i < 4; ++i) g.U32(0);
  Write(dir / "anchor_byte_token_minus_1", g.b);
}

void JsonAnchors(const fs::path& dir) {
  const std::string chat = R"("messages":[{"role":"user","content":"hi"}])";
  const std::vector<std::pair<std::string, std::string>> bodies = {
      {"valid_chat", "{" + chat + R"(,"max_tokens":8,"temperature":0.7,"stream":true,"stream_options":{"include_usage":true}})"},
      {"valid_completion", R"({"prompt":"hello","max_tokens":8,"logprobs":2,"n":2,"stop":["\n"],"seed":3})"},
      {"valid_tokens", R"({"prompt":[1,2,3],"logit_bias":{"5":-100},"response_format":{"type":"json_object"}})"},
      {"anchor_top_logprobs_minus_1", "{" + chat + R"(,"logprobs":true,"top_logprobs":-1})"},
      {"anchor_top_logprobs_huge", "{" + chat + R"(,"logprobs":true,"top_logprobs":4294967296})"},
      {"anchor_n_probs_minus_1", R"({"prompt":"x","logprobs":-1,"n_probs":-1})"},
      {"anchor_n_negative", R"({"prompt":"x","n":-5})"},
      {"anchor_n_huge", R"({"prompt":"x","n":18446744073709551615})"},
      {"anchor_temperature_nan", R"({"prompt":"x","temperature":NaN})"},
      {"anchor_temperature_inf", R"({"prompt":"x","temperature":1e999})"},
      {"anchor_max_tokens_0", R"({"prompt":"x","max_tokens":0})"},
      {"anchor_invalid_utf8", "{\"prompt\":\"\xff\xfe\xc0\x80\",\"stop\":[\"\xed\xa0\x80\"]}"},
      {"anchor_deep_nesting", std::string(5000, '[') + std::string(5000, ']')},
  };
  std::string stops = R"({"prompt":"x","stop":[)";
  for (int i = 0; i < 10000; ++i) stops += (i ? ",\"s" : "\"s") + std::to_string(i) + "\"";
  stops += "]}";
  for (const auto& [name, body] : bodies) Write(dir / "openai_request" / name, body);
  Write(dir / "openai_request" / "anchor_10000_stop_strings", stops);
  auto request = [](const std::string& head, const std::string& body) {
    return head + "\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  };
  // The first byte of an HTTP seed picks the piece size the fuzzer feeds.
  const std::vector<std::pair<std::string, std::string>> http = {
      {"valid_post", "\x07" + request("POST /v1/chat/completions HTTP/1.1", "{" + chat + "}")},
      {"valid_get", std::string("\x01") + "GET /health HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\nX-Request-Id: a\r\n\r\n"},
      {"anchor_content_length_2e64", "\x10POST /v1/completions HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n{}"},
      {"anchor_content_length_negative", "\x10POST /v1/completions HTTP/1.1\r\nContent-Length: -1\r\n\r\n{}"},
      {"anchor_chunk_size_huge", "\x10POST /v1/completions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nx\r\n0\r\n\r\n"},
      {"anchor_cl_and_te", "\x10POST /v1/completions HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
      {"anchor_huge_header", "\x50GET /health HTTP/1.1\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n"},
      {"anchor_invalid_utf8_target", "\x03GET /v1/\xff\xfe HTTP/1.1\r\nHost: \xc0\x80\r\n\r\n"},
      {"anchor_openai_body_utf8", "\x05" + request("POST /v1/completions HTTP/1.1", "{\"prompt\":\"\xff\"}")},
  };
  for (const auto& [name, bytes] : http) Write(dir / "http_request" / name, bytes);
}

void ChatTemplateSeeds(const fs::path& dir, const fs::path& fixtures) {
  const std::string sep = "\n<<<CONVERSATION>>>\n";
  for (const auto& entry : fs::directory_iterator(fixtures / "chat_templates")) {
    if (entry.path().extension() != ".json") continue;
    std::ifstream in(entry.path());
    const Json cases = Json::parse(in, nullptr, false);
    if (!cases.is_object() || !cases.contains("template_file") || !cases["cases"].is_array() || cases["cases"].empty()) continue;
    std::ifstream tin(fixtures / "chat_templates" / cases["template_file"].get<std::string>());
    std::stringstream source;
    source << tin.rdbuf();
    const Json& c = cases["cases"][0];
    const Json conv = {{"messages", c["messages"]}, {"tools", c["tools"]}, {"add_generation_prompt", c["add_generation_prompt"]}};
    Write(dir / ("fixture_" + entry.path().stem().string()), source.str() + sep + conv.dump());
  }
  Write(dir / "anchor_recursion", "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}");
  Write(dir / "anchor_huge_loop", "{% for i in range(1000000000) %}{{ i }}{% endfor %}");
  Write(dir / "anchor_output_blowup", "{% set s = 'xxxxxxxx' %}{% for i in range(100000) %}{{ s * 100000 }}{% endfor %}");
  Write(dir / "anchor_raise", "{{ raise_exception('no system role') }}");
  // Non-string dict keys, tuples, none/undefined through the iterating
  // filters, 64-bit overflow and nested braces inside a tag.
  Write(dir / "anchor_dict_keys", "{% set b = {1024: 256, 2.5: 'x', none: 1, (1, 2): 3, true: 4} %}"
                                  "{{ b | dictsort | tojson }}{{ b[1024] }}{{ 1 in b }}{{ b.items() | list }}");
  Write(dir / "anchor_none_filters", "{{ none | selectattr('a') | list }}{{ missing | map('upper') | join }}"
                                     "{{ tools | rejectattr('type', 'equalto', 'function') | list | length }}");
  Write(dir / "anchor_int_overflow", "{{ 9223372036854775807 + 1 }}{{ -(-9223372036854775807 - 1) }}{{ 3 ** 99 }}");
  Write(dir / "anchor_nested_braces", "{{ {'a': {'b': {'c': [1, {'d': 2}]}}} }}{% set x = {'k': {}}%}{{ x }}");
  Write(dir / "anchor_invalid_utf8", "{% for m in messages %}{{ m['content'] }}{% endfor %}" + sep +
                                          "{\"messages\":[{\"role\":\"user\",\"content\":\"\\udc80\"}]}");
}

void TokenizerSeeds(const fs::path& dir) {
  // Byte 0: vocabulary, byte 1: flags; then text.
  Write(dir / "anchor_invalid_utf8", std::string("\x00\x03", 2) + "\xff\xfe\xc0\x80\xed\xa0\x80 abc \xf4\x90\x80\x80");
  Write(dir / "anchor_long_run", std::string("\x05\x01", 2) + std::string(60000, 'a'));
  Write(dir / "anchor_specials", std::string("\x02\x03", 2) + "<s></s><|endoftext|><0x-1><0xZZ>[CLS][SEP]<|im_start|>");
  Write(dir / "anchor_whitespace", std::string("\x07\x01", 2) + std::string(5000, ' ') + std::string(5000, '\n'));
}

}  // namespace

// --override-kv specs, one per line: the keys the fixture models' configs
// read, with boundary and absurd values.
void OverrideKvSeeds(const fs::path& dir) {
  Write(dir / "valid_groups", "deepseek2.expert_group_count=int:2\ndeepseek2.expert_group_used_count=int:1\n");
  Write(dir / "anchor_int_extremes", "deepseek2.expert_count=int:-9223372036854775808\n"
                                     "llama.block_count=int:9223372036854775807\n"
                                     "qwen2.embedding_length=int:0\n");
  Write(dir / "anchor_groups_zero", "deepseek2.expert_group_count=int:0\ndeepseek2.expert_group_used_count=int:0\n");
  Write(dir / "anchor_float_extremes", "deepseek2.rope.scaling.factor=float:1e308\n"
                                       "llama.attention.layer_norm_rms_epsilon=float:-0\n"
                                       "deepseek2.expert_weights_scale=float:-1e-308\n"
                                       "deepseek2.rope.freq_base=float:0\n");
  Write(dir / "anchor_arch_swap", "general.architecture=str:deepseek2\ngeneral.architecture=str:\xff\xfe\n");
  Write(dir / "anchor_kind_mismatch", "deepseek2.expert_count=float:16\ngeneral.alignment=int:1\n");
  Write(dir / "anchor_head_dims", "deepseek2.attention.key_length=int:0\ndeepseek2.rope.dimension_count=int:4096\n"
                                  "deepseek2.attention.head_count=int:-1\nllama.attention.head_count_kv=int:3\n");
}

void FingerprintSidecarSeeds(const fs::path& dir) {
  const std::string hex = "0123456789abcdef0123456789abcdef";
  Write(dir / "valid", "tokenfab-fingerprint-v1 dev=2049 ino=77 size=1048576 mtime_ns=1700000000123456789 xxh3_128=" +
                           hex + "\n");
  Write(dir / "anchor_overflow", "tokenfab-fingerprint-v1 dev=18446744073709551616 ino=-1 size=+3 "
                                 "mtime_ns=-9223372036854775809 xxh3_128=" + hex + "\n");
  Write(dir / "anchor_fields_swapped", "tokenfab-fingerprint-v1 ino=77 dev=2049 size=1 mtime_ns=1 xxh3_128=" + hex);
  Write(dir / "anchor_empty_values", "tokenfab-fingerprint-v1 dev= ino= size= mtime_ns= xxh3_128=\n");
}

// A valid file in fuzz_block_file's format, then damaged ones.
void BlockFileSeeds(const fs::path& dir) {
  const tf::BlockFileFormat f = tf::fuzz::FuzzBlockFileFormat();
  const std::vector<int32_t> tokens = {1, 2, 3, 32000};
  std::vector<uint8_t> payload(64);
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<uint8_t>(i * 7);
  const std::vector<uint8_t> valid = *tf::EncodeBlockFile(f, tf::RootBlockHash("parent"), tokens, payload);
  auto as_string = [](const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); };
  Write(dir / "valid", as_string(valid));
  Write(dir / "anchor_truncated", as_string(valid).substr(0, valid.size() / 2));
  std::vector<uint8_t> flipped = valid;
  flipped[valid.size() - 1] ^= 1;
  Write(dir / "anchor_payload_flipped", as_string(flipped));
}

// One seed per parser of fuzz_cluster_messages (the first byte picks it).
void ClusterSeeds(const fs::path& dir) {
  const std::string hash(64, 'a');
  const std::string entry = R"({"address":"127.0.0.1:8101","block_size":16,"ctx_size":1024,"fingerprint":"fp",)"
                            R"("kv_capacity_blocks":4096,"kv_events":"127.0.0.1:9101","kv_fingerprint":"fp|kv=f32|block=16",)"
                            R"("kv_type":"f32","model":"tiny","n_vocab":32000,"role":"both","hmac":"00"})";
  Write(dir / "entry", std::string(1, '\0') + entry);
  Write(dir / "range", "\x01" + std::string(R"({"header":{"revision":"12"},"kvs":[{"key":"L2E=","value":"eA==","mod_revision":"7","lease":"99"}]})"));
  Write(dir / "watch", "\x02" + std::string(R"({"result":{"header":{"revision":"20"},"events":[{"kv":{"key":"L2E=","value":"eQ=="}},{"type":"DELETE","kv":{"key":"L2I="}}]}})"));
  Write(dir / "generate", "\x03" + std::string(R"({"model":"tiny","prompt":[1,2,3],"continued":[7,8],"num_draws_done":2,"max_tokens":40,)"
                                                R"("stop":["END"],"ignore_eos":false,"top_logprobs":2,"json_object":true,)"
                                                R"("sampling":{"temperature":0.7,"top_k":40,"seed":1,"logit_bias":[[5,-100]]}})"));
  Write(dir / "delta", "\x04" + std::string(R"({"text":"a","n":1,"token":42,"draws":9,"logprobs":[{"token":42,"logprob":-0.5,"top":[[42,-0.5]]}]})"));
  Write(dir / "delta_final", "\x04" + std::string(R"({"text":"","n":0,"draws":9,"finished":true,"finish_reason":"length","usage":{"prompt_tokens":5,"completion_tokens":10,"cached_tokens":3}})"));
  // seq 1, then msgpack [1.0, [["BlockStored", [bin32], nil, [], 16, nil, "cpu"], ["AllBlocksCleared"]]]
  std::string kv = "\x05" + std::string("\0\0\0\0\0\0\0\x01", 8) + "\x92\xcb\x3f\xf0" + std::string(6, '\0') + "\x92\x97\xab" +
                   "BlockStored" + "\x91\xc4\x20" + std::string(32, 'h') + "\xc0\x90\x10\xc0\xa3" + "cpu" + "\x91\xb0" +
                   "AllBlocksCleared";
  Write(dir / "kv_events", kv);
  Write(dir / "snapshot", "\x06" + std::string(R"({"seq":3,"block_size":16,"hashes":[")") + hash + "\"]}");
  Write(dir / "auth", "\x07" + std::string("1800000000:") + std::string(64, '0'));
  Write(dir / "base64", "\x08" + std::string("aGVsbG8="));
}

// A whole conversation as one stream, each frame alone, and the attacks:
// an oversized length, a token count past the payload, a truncated block.
void KvTransferSeeds(const fs::path& dir) {
  auto str = [](const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); };
  tf::KvPrefillRequest req;
  req.request_id = 9;
  req.kv_fingerprint = "fp|kv=f32|block=4";
  req.block_size = 4;
  req.block_bytes = 64;
  req.deadline_ms = 1000;
  req.tokens = {1, 2, 3, 4, 5, 6};
  req.mac = std::string(64, 'a');
  std::vector<uint8_t> payload(64, 3);
  tf::KvBlockFrame block;
  block.index = 0;
  block.num_tokens = 4;
  block.checksum = tf::KvPayloadChecksum(payload);
  block.payload = payload;
  const std::string hello = str(tf::EncodeKvHello({}));
  const std::string request = str(tf::EncodeKvPrefillRequest(req));
  const std::string accept = str(tf::EncodeKvAccept({std::string(64, 'b')}));
  const std::string blk = str(tf::EncodeKvBlockFrameHead(block)) + str(payload);
  const std::string done = str(tf::EncodeKvDone({1}));
  const std::string ack = str(tf::EncodeKvAck());
  const std::string error = str(tf::EncodeKvError("deadline"));
  Write(dir / "conversation", hello + request + accept + blk + done + ack);
  Write(dir / "request", request);
  Write(dir / "block", blk);
  Write(dir / "error", error);
  std::string huge = blk;
  huge[8] = huge[9] = huge[10] = huge[11] = '\xff';
  Write(dir / "huge_length", huge);
  std::string count = request;
  count[tf::kKvFrameHeaderBytes + 8 + 2 + req.kv_fingerprint.size() + 24 + 3] = '\x7f';
  Write(dir / "token_count", count);
  Write(dir / "truncated_block", blk.substr(0, blk.size() - 10));
}

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: make_seeds OUT_DIR FIXTURES_DIR\n");
    return 2;
  }
  const fs::path out = argv[1], fixtures = argv[2];
  GgufAnchors(out / "gguf");
  JsonAnchors(out);
  ChatTemplateSeeds(out / "chat_template", fixtures);
  TokenizerSeeds(out / "tokenizer");
  OverrideKvSeeds(out / "override_kv");
  FingerprintSidecarSeeds(out / "fingerprint_sidecar");
  BlockFileSeeds(out / "block_file");
  ClusterSeeds(out / "cluster_messages");
  KvTransferSeeds(out / "kv_transfer_frame");
  std::printf("seeds written to %s\n", out.c_str());
  return 0;
}
