// The KV block store on a real directory: round trips, the index rebuilt by
// a scan, crash leftovers, files that do not verify, LRU by mtime within a
// capacity covering every writer, two stores sharing one directory (as two
// processes do), the trust check on the directory, and a disk that fills.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/fixtures.h"
#include "kvstore/block_store.h"

namespace tf {
namespace {

namespace fs = std::filesystem;

BlockFileFormat TestFormat(const std::string& model = "model-a") {
  BlockFileFormat f;
  f.model_root = RootBlockHash(model);
  f.kv_type = 0;
  f.block_size = 4;
  f.n_layer = 2;
  f.payload_bytes = 256;
  return f;
}

struct TestBlock {
  BlockHash parent;
  std::vector<int32_t> tokens;
  std::vector<uint8_t> payload;
  BlockHash hash() const { return ChainBlockHash(parent, tokens); }
};

// Block `i` of a chain from the format's root.
std::vector<TestBlock> Chain(const BlockFileFormat& f, int n, int salt = 0) {
  std::vector<TestBlock> blocks;
  BlockHash parent = f.model_root;
  for (int i = 0; i < n; ++i) {
    TestBlock b;
    b.parent = parent;
    for (uint32_t t = 0; t < f.block_size; ++t) b.tokens.push_back(salt * 1000 + i * 10 + static_cast<int>(t));
    for (uint64_t j = 0; j < f.payload_bytes; ++j) b.payload.push_back(static_cast<uint8_t>(i * 7 + j + salt));
    parent = b.hash();
    blocks.push_back(b);
  }
  return blocks;
}

std::string FreshDir(const std::string& name) {
  const std::string dir = testing::TempPath(name);
  fs::remove_all(dir);
  return dir;
}

std::unique_ptr<BlockStore> OpenStore(const std::string& dir, uint64_t capacity = 1 << 20,
                                      const BlockFileFormat& f = TestFormat()) {
  auto store = BlockStore::Open({dir, capacity, f, 10});
  EXPECT_TRUE(store.ok()) << store.status().message();
  return store.ok() ? std::move(*store) : nullptr;
}

StoreRead ReadBack(BlockStore* store, const TestBlock& b) {
  std::vector<uint8_t> file;
  std::span<const uint8_t> payload;
  const StoreRead r = store->Read(b.hash(), &file, &payload);
  if (r == StoreRead::kHit) {
    EXPECT_EQ(std::vector<uint8_t>(payload.begin(), payload.end()), b.payload);
  }
  return r;
}

void SetMtime(const std::string& path, int64_t seconds_ago) {
  timespec times[2];
  clock_gettime(CLOCK_REALTIME, &times[0]);
  times[0].tv_sec -= seconds_ago;
  times[1] = times[0];
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
}

TEST(BlockStore, WritesReadBackAndSurviveAReopen) {
  const std::string dir = FreshDir("store-roundtrip");
  const auto blocks = Chain(TestFormat(), 5);
  {
    auto store = OpenStore(dir);
    for (const auto& b : blocks) ASSERT_TRUE(store->Write(b.parent, b.tokens, b.payload).ok());
    for (const auto& b : blocks) EXPECT_EQ(ReadBack(store.get(), b), StoreRead::kHit);
    EXPECT_EQ(store->num_files(), 5u);
    EXPECT_EQ(store->size_bytes(), 5 * TestFormat().file_bytes());
  }
  EXPECT_EQ(fs::status(dir).permissions() & fs::perms::all, fs::perms::owner_all);
  auto reopened = OpenStore(dir);
  EXPECT_EQ(reopened->num_files(), 5u);  // the scan found them
  for (const auto& b : blocks) {
    EXPECT_TRUE(reopened->InIndex(b.hash()));
    EXPECT_EQ(ReadBack(reopened.get(), b), StoreRead::kHit);
  }
  EXPECT_FALSE(reopened->Contains(Chain(TestFormat(), 1, 9)[0].hash()));
  EXPECT_EQ(reopened->counters().blocks_read.load(), 5u);
}

TEST(BlockStore, TemporariesOfDeadWritersAreCleanedAndLiveOnesKept) {
  const std::string dir = FreshDir("store-temps");
  auto store = OpenStore(dir);
  const std::string name = BlockFileName(Chain(TestFormat(), 1)[0].hash());
  // pid 2^22 + 1 is above pid_max's largest setting, so no process has it.
  const std::string dead = dir + "/" + name + ".tmp.4194305.0";
  const std::string live = dir + "/" + name + ".tmp." + std::to_string(::getppid()) + ".3";
  const std::string other = dir + "/notes.txt";
  for (const auto& p : {dead, live, other}) std::ofstream(p) << "partial";
  store.reset();
  store = OpenStore(dir);
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_TRUE(fs::exists(live)) << "a live process's write in progress must be left alone";
  EXPECT_TRUE(fs::exists(other));
  EXPECT_EQ(store->counters().temp_files_cleaned.load(), 1u);
  EXPECT_EQ(store->num_files(), 0u);  // temporaries are never blocks
  SetMtime(live, 3600);  // an hour-old temp is abandoned whoever owns the pid
  store.reset();
  store = OpenStore(dir);
  EXPECT_FALSE(fs::exists(live));
}

TEST(BlockStore, FilesThatDoNotVerifyAreMissesAndDeleted) {
  const std::string dir = FreshDir("store-corrupt");
  auto store = OpenStore(dir);
  const auto blocks = Chain(TestFormat(), 4);
  for (const auto& b : blocks) ASSERT_TRUE(store->Write(b.parent, b.tokens, b.payload).ok());
  const auto path = [&](int i) { return dir + "/" + BlockFileName(blocks[i].hash()); };
  fs::resize_file(path(0), TestFormat().file_bytes() - 10);  // truncated
  {
    std::fstream f(path(1), std::ios::in | std::ios::out | std::ios::binary);  // one payload bit flipped
    f.seekp(static_cast<std::streamoff>(TestFormat().file_bytes() - 5));
    f.put(static_cast<char>(0x5a));
  }
  // Another model's block renamed to this chain's name: the right size, a
  // valid file, never served.
  const BlockFileFormat other = TestFormat("model-b");
  const auto foreign = Chain(other, 3);
  auto other_store = OpenStore(FreshDir("store-corrupt-b"), 1 << 20, other);
  ASSERT_TRUE(other_store->Write(foreign[2].parent, foreign[2].tokens, foreign[2].payload).ok());
  fs::copy_file(other_store->options().dir + "/" + BlockFileName(foreign[2].hash()), path(2),
                fs::copy_options::overwrite_existing);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(ReadBack(store.get(), blocks[i]), StoreRead::kCorrupt) << i;
    EXPECT_FALSE(fs::exists(path(i))) << i;
    EXPECT_FALSE(store->Contains(blocks[i].hash()));
  }
  EXPECT_EQ(ReadBack(store.get(), blocks[3]), StoreRead::kHit);
  EXPECT_EQ(store->counters().corrupt_deleted.load(), 3u);
}

TEST(BlockStore, CapacityEvictsLeastRecentlyUsedAcrossEveryWriter) {
  const std::string dir = FreshDir("store-lru");
  const uint64_t file_bytes = TestFormat().file_bytes();
  auto store = OpenStore(dir, 4 * file_bytes);
  const auto blocks = Chain(TestFormat(), 6);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(store->Write(blocks[i].parent, blocks[i].tokens, blocks[i].payload).ok());
  for (int i = 0; i < 4; ++i) SetMtime(dir + "/" + BlockFileName(blocks[i].hash()), 100 - i);  // 0 oldest
  ASSERT_TRUE(store->Rescan().ok());
  EXPECT_EQ(ReadBack(store.get(), blocks[0]), StoreRead::kHit);  // touched: now the newest
  ASSERT_TRUE(store->Write(blocks[4].parent, blocks[4].tokens, blocks[4].payload).ok());
  EXPECT_TRUE(fs::exists(dir + "/" + BlockFileName(blocks[0].hash())));
  EXPECT_FALSE(fs::exists(dir + "/" + BlockFileName(blocks[1].hash()))) << "the least recently used goes first";
  EXPECT_EQ(store->counters().evictions.load(), 1u);
  // Another model's blocks in the same directory count toward the capacity.
  const BlockFileFormat other = TestFormat("model-b");
  const auto foreign = Chain(other, 2);
  {
    auto b = OpenStore(dir, 4 * file_bytes, other);
    for (const auto& f : foreign) ASSERT_TRUE(b->Write(f.parent, f.tokens, f.payload).ok());
  }
  store.reset();
  store = OpenStore(dir, 4 * file_bytes);
  EXPECT_LE(store->size_bytes(), 4 * file_bytes);
  uint64_t on_disk = 0;
  for (const auto& e : fs::directory_iterator(dir)) on_disk += e.file_size();
  EXPECT_LE(on_disk, 4 * file_bytes);
}

TEST(BlockStore, TwoStoresOnOneDirectoryShareBlocksAndEvictions) {
  const std::string dir = FreshDir("store-shared");
  auto a = OpenStore(dir);
  auto b = OpenStore(dir);
  const auto blocks = Chain(TestFormat(), 3);
  for (const auto& blk : blocks) ASSERT_TRUE(a->Write(blk.parent, blk.tokens, blk.payload).ok());
  EXPECT_FALSE(b->InIndex(blocks[0].hash()));
  EXPECT_TRUE(b->Contains(blocks[0].hash())) << "a miss in the index tries the file by its name";
  EXPECT_EQ(ReadBack(b.get(), blocks[0]), StoreRead::kHit);
  // b evicts what a indexed; a then sees a miss, not an error.
  fs::remove(dir + "/" + BlockFileName(blocks[1].hash()));
  EXPECT_TRUE(a->InIndex(blocks[1].hash()));
  EXPECT_EQ(ReadBack(a.get(), blocks[1]), StoreRead::kMissing);
  EXPECT_FALSE(a->InIndex(blocks[1].hash()));
  // A reader holding the file open while another process unlinks it still
  // reads the whole block (POSIX keeps the inode until the last close).
  const std::string path = dir + "/" + BlockFileName(blocks[2].hash());
  const int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  fs::remove(path);
  std::vector<uint8_t> bytes(TestFormat().file_bytes());
  EXPECT_EQ(::pread(fd, bytes.data(), bytes.size(), 0), static_cast<ssize_t>(bytes.size()));
  ::close(fd);
  EXPECT_TRUE(ParseBlockFile(bytes, TestFormat(), blocks[2].hash()).ok());
}

TEST(BlockStore, RefusesDirectoriesOthersCanWriteAndOtherBadArguments) {
  const std::string dir = FreshDir("store-trust");
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms::all);
  auto open = BlockStore::Open({dir, 1 << 20, TestFormat(), 10});
  ASSERT_FALSE(open.ok());
  EXPECT_NE(open.status().message().find("writable by other users"), std::string::npos) << open.status().message();
  EXPECT_NE(open.status().message().find("chmod go-w"), std::string::npos);
  fs::permissions(dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::others_read);
  EXPECT_TRUE(BlockStore::Open({dir, 1 << 20, TestFormat(), 10}).ok());
  EXPECT_FALSE(BlockStore::Open({dir, 0, TestFormat(), 10}).ok());
  const std::string file = dir + "/plain-file";
  std::ofstream(file) << "x";
  auto not_dir = BlockStore::Open({file, 1 << 20, TestFormat(), 10});
  ASSERT_FALSE(not_dir.ok());
  EXPECT_NE(not_dir.status().message().find("not a directory"), std::string::npos);
}

// A real full disk: a 256 KiB tmpfs in this test process's own mount
// namespace (needs CAP_SYS_ADMIN, which CI's root has).
TEST(BlockStore, ADiskThatFillsFailsWritesWithENOSPCAndKeepsReads) {
  if (::unshare(CLONE_NEWNS) != 0) GTEST_SKIP() << "cannot create a mount namespace (not root?)";
  ASSERT_EQ(::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0);
  const std::string dir = FreshDir("store-full");
  fs::create_directories(dir);
  ASSERT_EQ(::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=256k,mode=0700"), 0) << std::strerror(errno);
  auto store = OpenStore(dir, uint64_t{1} << 30);  // a capacity the disk cannot hold
  const auto blocks = Chain(TestFormat(), 400);
  Status failed = Status::Ok();
  size_t written = 0;
  for (const auto& b : blocks) {
    failed = store->Write(b.parent, b.tokens, b.payload);
    if (!failed.ok()) break;
    ++written;
  }
  ASSERT_FALSE(failed.ok()) << "256 KiB cannot hold 400 blocks";
  EXPECT_NE(failed.message().find("No space left on device"), std::string::npos) << failed.message();
  EXPECT_GT(written, 10u);
  EXPECT_EQ(ReadBack(store.get(), blocks[0]), StoreRead::kHit);
  for (const auto& e : fs::directory_iterator(dir)) {
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << "a failed write leaves no temporary";
  }
  ::umount(dir.c_str());
}

}  // namespace
}  // namespace tf
