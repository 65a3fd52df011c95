// Host-side pieces of the CUDA model that need no GPU (they run everywhere): the page/slot free
// lists and sequence handles, the batch plan (validation, page reservation, metadata packing),
// the memory plan and the workspace layout.
#include <gtest/gtest.h>

#include <algorithm>
#include <span>
#include <vector>

#include "text_service/model/cuda/batch_plan.h"
#include "text_service/model/cuda/cache_allocator.h"
#include "text_service/model/cuda/decode_graphs.h"
#include "text_service/model/cuda/memory_plan.h"
#include "text_service/model/cuda/workspace.h"

namespace qwen::text::cuda {
namespace {

TEST(IndexPoolTest, HandsOutLowestFirstAndReusesLastFreed) {
  IndexPool pool(3);
  EXPECT_EQ(pool.Allocate(), 0);
  EXPECT_EQ(pool.Allocate(), 1);
  EXPECT_EQ(pool.Allocate(), 2);
  EXPECT_EQ(pool.Allocate(), -1);
  pool.Free(1);
  EXPECT_EQ(pool.num_free(), 1);
  EXPECT_EQ(pool.Allocate(), 1);
}

TEST(IndexPoolDeathTest, DoubleFreeIsABug) {
  IndexPool pool(2);
  const int32_t i = pool.Allocate();
  pool.Free(i);
  EXPECT_DEATH(pool.Free(i), "not allocated");
}

TEST(CacheAllocatorTest, SequencesOwnSlotsAndPagesUntilReleased) {
  CacheAllocator alloc(/*num_slots=*/2, /*num_pages=*/4, /*page_size=*/16,
                       /*max_pages_per_sequence=*/3, /*uses_pages=*/true);
  auto a = alloc.NewSequence();
  auto b = alloc.NewSequence();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->slot(), b->slot());
  EXPECT_EQ(alloc.NewSequence().status().code(), absl::StatusCode::kResourceExhausted);

  EXPECT_EQ(alloc.PagesNeeded(*a, 17), 2);
  ASSERT_TRUE(alloc.Reserve(*a, 17).ok());
  EXPECT_EQ(a->pages().size(), 2u);
  EXPECT_TRUE(alloc.Reserve(*a, 32).ok());  // still 2 pages
  EXPECT_EQ(a->pages().size(), 2u);
  // Over the per-sequence limit: InvalidArgument, nothing taken.
  EXPECT_EQ(alloc.Reserve(*a, 49).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(alloc.num_free_pages(), 2);
  ASSERT_TRUE(alloc.Reserve(*b, 10).ok());  // 1 page
  ASSERT_TRUE(alloc.Reserve(*a, 33).ok());  // a's third page: none left
  EXPECT_EQ(alloc.num_free_pages(), 0);
  // b needs 2 more pages for 48 tokens: all or nothing.
  EXPECT_EQ(alloc.Reserve(*b, 48).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(b->pages().size(), 1u);

  // Moving keeps ownership; destroying frees.
  CudaSequence moved = std::move(*a);
  EXPECT_FALSE(a->valid());
  EXPECT_TRUE(moved.valid());
  EXPECT_EQ(moved.pages().size(), 3u);
  { CudaSequence gone = std::move(moved); }
  EXPECT_EQ(alloc.num_free_pages(), 3);
  EXPECT_EQ(alloc.num_free_slots(), 1);
  b->Release();
  EXPECT_FALSE(b->valid());
  EXPECT_EQ(alloc.num_free_pages(), 4);
  EXPECT_EQ(alloc.num_free_slots(), 2);
}

TEST(CacheAllocatorTest, ModelsWithoutAttentionLayersNeedNoPages) {
  CacheAllocator alloc(1, 0, 16, 1, /*uses_pages=*/false);
  auto a = alloc.NewSequence();
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(alloc.PagesNeeded(*a, 1000), 0);
  EXPECT_TRUE(alloc.Reserve(*a, 1000).ok());
}

class BatchPlanTest : public ::testing::Test {
 protected:
  BatchLimits limits_{.vocab_size = 100,
                      .hidden_size = 4,
                      .max_position_embeddings = 200,
                      .max_batched_tokens = 64,
                      .max_seqs = 4};
  CacheAllocator alloc_{4, 8, 16, 4, true};
  std::vector<int32_t> meta_ = std::vector<int32_t>(MetadataCapacity(limits_, 4));
};

TEST_F(BatchPlanTest, PacksAMixedBatch) {
  auto a = alloc_.NewSequence();
  auto b = alloc_.NewSequence();
  ASSERT_TRUE(a.ok() && b.ok());
  // a already holds 20 tokens (continuing), b starts.
  ASSERT_TRUE(alloc_.Reserve(*a, 20).ok());
  alloc_.Advance(*a, 20);
  a->set_rope_delta(-3);
  const std::vector<int64_t> ids = {5, 6, 7, 8, 9};
  CudaForwardBatch batch{
      .token_ids = ids,
      .sequences = {{.length = 2, .sequence = &*a}, {.length = 3, .sequence = &*b}}};
  auto plan = PlanBatch(batch, limits_, alloc_, meta_.data(), static_cast<int64_t>(meta_.size()));
  ASSERT_TRUE(plan.ok()) << plan.status();
  const BatchPlan& p = *plan;
  EXPECT_EQ(p.num_tokens, 5);
  EXPECT_EQ(p.num_seqs, 2);
  EXPECT_EQ(p.max_query_len, 3);
  EXPECT_FALSE(p.decode_only);
  EXPECT_EQ(p.block_table_stride, 2);  // a: 2 pages (22 tokens), b: 1 page
  auto at = [&](int64_t off, int64_t i) { return meta_[static_cast<size_t>(off + i)]; };
  for (int64_t i = 0; i < 5; ++i) EXPECT_EQ(at(p.token_ids, i), ids[static_cast<size_t>(i)]);
  EXPECT_EQ(at(p.cu_seqlens, 0), 0);
  EXPECT_EQ(at(p.cu_seqlens, 1), 2);
  EXPECT_EQ(at(p.cu_seqlens, 2), 5);
  EXPECT_EQ(at(p.cached_lens, 0), 20);
  EXPECT_EQ(at(p.cached_lens, 1), 0);
  EXPECT_EQ(at(p.state_slots, 0), a->slot());
  EXPECT_EQ(at(p.state_slots, 1), b->slot());
  EXPECT_EQ(at(p.has_initial_state, 0), 1);
  EXPECT_EQ(at(p.has_initial_state, 1), 0);
  EXPECT_EQ(at(p.last_rows, 0), 1);
  EXPECT_EQ(at(p.last_rows, 1), 4);
  EXPECT_EQ(at(p.block_table, 0), a->pages()[0]);
  EXPECT_EQ(at(p.block_table, 1), a->pages()[1]);
  EXPECT_EQ(at(p.block_table, 2), b->pages()[0]);
  EXPECT_EQ(at(p.block_table, 3), 0);
  // Text positions: num_tokens + i + rope_delta on all three rows.
  const std::vector<int32_t> want = {17, 18, 0, 1, 2};
  for (int64_t axis = 0; axis < 3; ++axis) {
    for (int64_t i = 0; i < 5; ++i) {
      EXPECT_EQ(at(p.positions, axis * 5 + i), want[static_cast<size_t>(i)]);
    }
  }
  for (int64_t i = 0; i < 5; ++i) EXPECT_EQ(at(p.embed_index, i), -1);
  EXPECT_EQ(p.size, 5 + 15 + 5 + 3 + 2 * 4 + 2 * 2);
}

TEST_F(BatchPlanTest, DecodeOnlyNeedsACachedStateForEverySequence) {
  auto a = alloc_.NewSequence();
  auto b = alloc_.NewSequence();
  ASSERT_TRUE(a.ok() && b.ok());
  const std::vector<int64_t> ids = {1, 2};
  CudaForwardBatch batch{
      .token_ids = ids,
      .sequences = {{.length = 1, .sequence = &*a}, {.length = 1, .sequence = &*b}}};
  auto first = PlanBatch(batch, limits_, alloc_, meta_.data(), static_cast<int64_t>(meta_.size()));
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first->decode_only);  // first tokens: start from zero state (varlen kernels)
  alloc_.Advance(*a, 1);
  alloc_.Advance(*b, 1);
  auto second = PlanBatch(batch, limits_, alloc_, meta_.data(), static_cast<int64_t>(meta_.size()));
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->decode_only);
}

TEST_F(BatchPlanTest, RejectsBadBatchesWithoutTouchingState) {
  auto a = alloc_.NewSequence();
  ASSERT_TRUE(a.ok());
  CacheAllocator other(1, 1, 16, 1, true);
  auto foreign = other.NewSequence();
  ASSERT_TRUE(foreign.ok());
  auto plan = [&](const CudaForwardBatch& batch) {
    return PlanBatch(batch, limits_, alloc_, meta_.data(), static_cast<int64_t>(meta_.size()))
        .status()
        .code();
  };
  const std::vector<int64_t> ids = {1, 2, 3};
  const std::vector<int64_t> bad = {1, 100, 3};
  const std::vector<int64_t> many(65, 1);
  const std::vector<int64_t> pos = {0, 1, 2, 0, 1, 2, 0, 1, -1};
  const std::vector<int32_t> bad_index = {-1, 0, -1};
  const std::vector<float> one_row(4, 0.5f);
  using C = absl::StatusCode;
  EXPECT_EQ(plan({}), C::kInvalidArgument);
  EXPECT_EQ(plan({.token_ids = bad, .sequences = {{3, &*a}}}), C::kInvalidArgument);
  EXPECT_EQ(plan({.token_ids = many, .sequences = {{65, &*a}}}), C::kInvalidArgument);
  EXPECT_EQ(plan({.token_ids = ids, .sequences = {{2, &*a}}}), C::kInvalidArgument);
  EXPECT_EQ(plan({.token_ids = ids, .sequences = {{0, &*a}, {3, &*a}}}), C::kInvalidArgument);
  EXPECT_EQ(plan({.token_ids = ids, .sequences = {{3, nullptr}}}), C::kInvalidArgument);
  EXPECT_EQ(plan({.token_ids = ids, .sequences = {{3, &*foreign}}}), C::kInvalidArgument);
  EXPECT_EQ(plan({.token_ids = ids, .positions = pos, .sequences = {{3, &*a}}}),
            C::kInvalidArgument);
  EXPECT_EQ(plan({.token_ids = ids,
                  .sequences = {{3, &*a}},
                  .embed_rows = one_row,
                  .embed_index = std::vector<int32_t>{-1, 1, -1}}),
            C::kInvalidArgument);
  EXPECT_EQ(plan({.token_ids = ids, .sequences = {{3, &*a}}, .embed_rows = one_row}),
            C::kInvalidArgument);
  a->set_rope_delta(-5);
  EXPECT_EQ(plan({.token_ids = ids, .sequences = {{3, &*a}}}), C::kInvalidArgument);
  a->set_rope_delta(0);
  EXPECT_EQ(a->num_tokens(), 0);
  EXPECT_TRUE(a->pages().empty());
  EXPECT_EQ(plan({.token_ids = ids,
                  .sequences = {{3, &*a}},
                  .embed_rows = one_row,
                  .embed_index = bad_index}),
            C::kOk);
  // Context beyond max_position_embeddings.
  alloc_.Advance(*a, 199);
  EXPECT_EQ(plan({.token_ids = ids, .sequences = {{3, &*a}}}), C::kInvalidArgument);
}

TEST_F(BatchPlanTest, AFullCacheRejectsTheWholeBatch) {
  auto a = alloc_.NewSequence();
  auto b = alloc_.NewSequence();
  ASSERT_TRUE(a.ok() && b.ok());
  auto run = [&](const CudaForwardBatch& batch) {
    return PlanBatch(batch, limits_, alloc_, meta_.data(), static_cast<int64_t>(meta_.size()))
        .status()
        .code();
  };
  // a: 48 tokens (3 pages), b: 16 tokens (1 page): 4 of 8 pages used.
  const std::vector<int64_t> ids(64, 1);
  ASSERT_EQ(run({.token_ids = ids, .sequences = {{48, &*a}, {16, &*b}}}), absl::StatusCode::kOk);
  alloc_.Advance(*a, 48);
  alloc_.Advance(*b, 16);
  auto c = alloc_.NewSequence();
  ASSERT_TRUE(c.ok());
  // c wants 4 pages (63 tokens) and b one more (17 tokens): 5 > 4 free, so nothing is reserved.
  EXPECT_EQ(run({.token_ids = ids, .sequences = {{63, &*c}, {1, &*b}}}),
            absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(c->pages().empty());
  EXPECT_EQ(b->pages().size(), 1u);
  EXPECT_EQ(alloc_.num_free_pages(), 4);
  // c alone fits exactly.
  EXPECT_EQ(run({.token_ids = std::span<const int64_t>(ids).first(63), .sequences = {{63, &*c}}}),
            absl::StatusCode::kOk);
  EXPECT_EQ(alloc_.num_free_pages(), 0);
}

TEST_F(BatchPlanTest, PadsADecodeBatchToAGraphShape) {
  auto pad = alloc_.NewSequence();
  auto a = alloc_.NewSequence();
  ASSERT_TRUE(pad.ok() && a.ok());
  ASSERT_TRUE(alloc_.Reserve(*pad, 1).ok());
  ASSERT_TRUE(alloc_.Reserve(*a, 17).ok());
  alloc_.Advance(*a, 17);
  const std::vector<int64_t> ids = {42};
  CudaForwardBatch batch{.token_ids = ids, .sequences = {{.length = 1, .sequence = &*a}}};
  EXPECT_TRUE(IsDecodeBatch(batch));
  EXPECT_EQ(BlockTableWidth(batch, alloc_), 2);
  const DecodePadding padding{
      .num_seqs = 3, .block_table_stride = 4, .slot = pad->slot(), .page = pad->pages()[0]};
  auto plan =
      PlanBatch(batch, limits_, alloc_, meta_.data(), static_cast<int64_t>(meta_.size()), &padding);
  ASSERT_TRUE(plan.ok()) << plan.status();
  const BatchPlan& p = *plan;
  EXPECT_EQ(p.num_tokens, 3);
  EXPECT_EQ(p.num_seqs, 3);
  EXPECT_TRUE(p.decode_only);
  EXPECT_EQ(p.block_table_stride, 4);
  auto at = [&](int64_t off, int64_t i) { return meta_[static_cast<size_t>(off + i)]; };
  EXPECT_EQ(at(p.token_ids, 0), 42);
  EXPECT_EQ(at(p.state_slots, 0), a->slot());
  EXPECT_EQ(at(p.cached_lens, 0), 17);
  EXPECT_EQ(at(p.positions, 0), 17);
  for (int64_t s = 1; s < 3; ++s) {
    EXPECT_EQ(at(p.token_ids, s), 0);
    EXPECT_EQ(at(p.cu_seqlens, s), s);
    EXPECT_EQ(at(p.cached_lens, s), 0);
    EXPECT_EQ(at(p.state_slots, s), pad->slot());
    EXPECT_EQ(at(p.last_rows, s), s);
    EXPECT_EQ(at(p.block_table, s * 4), pad->pages()[0]);
    for (int64_t axis = 0; axis < 3; ++axis) EXPECT_EQ(at(p.positions, axis * 3 + s), 0);
  }
  EXPECT_EQ(at(p.cu_seqlens, 3), 3);
  EXPECT_EQ(at(p.block_table, 0), a->pages()[0]);
  EXPECT_EQ(at(p.block_table, 1), a->pages()[1]);
  EXPECT_EQ(at(p.block_table, 2), 0);
  EXPECT_EQ(a->num_tokens(), 17);  // the model advances it after the forward
  EXPECT_EQ(a->pages().size(), 2u);

  // Too narrow a stride, or a batch that is not a decode step, is a bug of the caller.
  const DecodePadding narrow{.num_seqs = 3, .block_table_stride = 1, .slot = pad->slot()};
  EXPECT_EQ(
      PlanBatch(batch, limits_, alloc_, meta_.data(), static_cast<int64_t>(meta_.size()), &narrow)
          .status()
          .code(),
      absl::StatusCode::kInternal);
  const std::vector<int64_t> two = {1, 2};
  CudaForwardBatch prefill{.token_ids = two, .sequences = {{.length = 2, .sequence = &*a}}};
  EXPECT_FALSE(IsDecodeBatch(prefill));
  EXPECT_EQ(PlanBatch(prefill, limits_, alloc_, meta_.data(), static_cast<int64_t>(meta_.size()),
                      &padding)
                .status()
                .code(),
            absl::StatusCode::kInternal);
}

TEST(DecodeGraphsTest, BucketsCoverEveryBatchUpToTheCap) {
  DecodeGraphs g(100, 64, 16384);
  EXPECT_EQ(g.batch_buckets(),
            (std::vector<int64_t>{1, 2, 4, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 100}));
  EXPECT_EQ(g.BatchBucket(1), 1);
  EXPECT_EQ(g.BatchBucket(3), 4);
  EXPECT_EQ(g.BatchBucket(57), 64);
  EXPECT_EQ(g.BatchBucket(99), 100);
  EXPECT_EQ(g.BatchBucket(101), 0);
  EXPECT_EQ(g.WidthBucket(1), 64);
  EXPECT_EQ(g.WidthBucket(64), 64);
  EXPECT_EQ(g.WidthBucket(65), 128);
  EXPECT_EQ(g.WidthBucket(16384), 16384);
  DecodeGraphs small(3, 64, 20);
  EXPECT_EQ(small.batch_buckets(), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(small.WidthBucket(1), 20);
  EXPECT_EQ(small.num_graphs(), 0);
}

TEST(MemoryPlanTest, AttentionHeadDims) {
  EXPECT_EQ(AttentionHeadDim(32), 64);
  EXPECT_EQ(AttentionHeadDim(64), 64);
  EXPECT_EQ(AttentionHeadDim(96), 128);
  EXPECT_EQ(AttentionHeadDim(256), 256);
  EXPECT_EQ(AttentionHeadDim(512), 0);
}

core::TextConfig TinyConfig() {
  core::TextConfig c;
  c.vocab_size = 512;
  c.hidden_size = 64;
  c.intermediate_size = 128;
  c.num_hidden_layers = 4;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 32;
  c.linear_key_head_dim = 16;
  c.linear_value_head_dim = 24;
  c.linear_num_key_heads = 2;
  c.linear_num_value_heads = 2;
  c.max_position_embeddings = 4096;
  c.layer_types = {core::LayerType::kLinearAttention, core::LayerType::kLinearAttention,
                   core::LayerType::kLinearAttention, core::LayerType::kFullAttention};
  return c;
}

TEST(MemoryPlanTest, ExplicitSizes) {
  const core::TextConfig c = TinyConfig();
  auto p = PlanMemory(c, {.max_batched_tokens = 100, .max_slots = 3, .num_pages = 10}, 1000,
                      size_t{1} << 30, size_t{1} << 31);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->max_slots, 3);
  EXPECT_EQ(p->num_pages, 10);
  EXPECT_EQ(p->max_seqs, 100);
  EXPECT_EQ(p->max_logits_rows, 100);
  EXPECT_EQ(p->attention_head_dim, 64);
  EXPECT_EQ(p->max_pages_per_sequence, 256);
  // One page: 1 full layer x K and V x 16 tokens x Hkv 2 x Da 64 x bf16.
  EXPECT_EQ(p->page_bytes, size_t{2 * 16 * 2 * 64 * 2});
  // One slot: 3 linear layers x f32 x (3 x conv_dim 112 + Hv 2 x 16 x 24).
  EXPECT_EQ(p->slot_bytes, size_t{3 * 4 * (3 * 112 + 2 * 16 * 24)});
  EXPECT_GT(p->workspace_bytes, 0u);
  EXPECT_NE(p->Describe().find("10 pages"), std::string::npos) << p->Describe();
}

TEST(MemoryPlanTest, FractionSizesSlotsAndPages) {
  const core::TextConfig c = TinyConfig();
  const size_t free_bytes = size_t{64} << 20;
  auto p = PlanMemory(c, {.max_batched_tokens = 64, .max_seqs = 8, .gpu_memory_fraction = 0.5}, 0,
                      free_bytes, free_bytes);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->max_slots, 8);  // capped at max_seqs
  const size_t budget = static_cast<size_t>((free_bytes - p->workspace_bytes) * 0.5);
  EXPECT_LE(p->cache_bytes(), budget + 512);
  EXPECT_GE(p->num_pages, static_cast<int64_t>((budget - 8 * p->slot_bytes) / p->page_bytes) - 1);
}

TEST(MemoryPlanTest, OversizedOrUnderspecifiedPlans) {
  const core::TextConfig c = TinyConfig();
  auto huge = PlanMemory(c, {.max_batched_tokens = 64, .max_slots = 1, .num_pages = 1 << 30}, 0,
                         size_t{1} << 30, size_t{1} << 30);
  EXPECT_EQ(huge.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(huge.status().message().find("MiB"), std::string_view::npos) << huge.status();
  auto tiny = PlanMemory(c, {.max_batched_tokens = 64, .gpu_memory_fraction = 1.0}, 0, 1000, 1000);
  EXPECT_EQ(tiny.status().code(), absl::StatusCode::kResourceExhausted) << tiny.status();
  auto unsized = PlanMemory(c, {.max_batched_tokens = 64}, 0, size_t{1} << 30, size_t{1} << 30);
  EXPECT_EQ(unsized.status().code(), absl::StatusCode::kInvalidArgument);
  auto bad_fraction = PlanMemory(c, {.max_batched_tokens = 64, .gpu_memory_fraction = 1.5}, 0,
                                 size_t{1} << 30, size_t{1} << 30);
  EXPECT_EQ(bad_fraction.status().code(), absl::StatusCode::kInvalidArgument);
  core::TextConfig wide = c;
  wide.head_dim = 512;
  auto unsupported = PlanMemory(wide, {.max_batched_tokens = 64, .max_slots = 1, .num_pages = 1}, 0,
                                size_t{1} << 30, size_t{1} << 30);
  EXPECT_EQ(unsupported.status().code(), absl::StatusCode::kUnimplemented);
}

TEST(WorkspaceTest, BuffersFitAndPhasesShareScratch) {
  const core::TextConfig c = TinyConfig();
  const WorkspaceDims dims{.max_tokens = 10,
                           .max_seqs = 2,
                           .logits_rows = 3,
                           .metadata_capacity = 100,
                           .attention_head_dim = 64};
  const size_t bytes = LayoutWorkspace(c, dims, nullptr, nullptr);
  std::vector<char> base(bytes);
  Workspace w;
  EXPECT_EQ(LayoutWorkspace(c, dims, base.data(), &w), bytes);
  auto inside = [&](const void* p, size_t n) {
    const char* q = static_cast<const char*>(p);
    return q >= base.data() && q + n <= base.data() + bytes;
  };
  EXPECT_TRUE(inside(w.logits, 3 * 512 * 4));
  EXPECT_TRUE(inside(w.o_pad, 10 * 4 * 64 * 2));
  EXPECT_EQ(static_cast<void*>(w.lin_proj), static_cast<void*>(w.qg));
  EXPECT_EQ(static_cast<void*>(w.lin_proj), static_cast<void*>(w.gate_up));
  EXPECT_GT(static_cast<void*>(w.lin_proj), static_cast<void*>(w.o_pad));
  EXPECT_TRUE(inside(w.gated, 10 * 2 * 24 * 2));
  EXPECT_TRUE(inside(w.act, 10 * 128 * 2));
  EXPECT_EQ(w.pad_bytes > 0, true);
  const WorkspaceDims unpadded{.max_tokens = 10,
                               .max_seqs = 2,
                               .logits_rows = 3,
                               .metadata_capacity = 100,
                               .attention_head_dim = 32};
  Workspace u;
  LayoutWorkspace(c, unpadded, base.data(), &u);
  EXPECT_EQ(u.q_pad, nullptr);
  EXPECT_EQ(u.pad_bytes, 0u);
}

}  // namespace
}  // namespace qwen::text::cuda
