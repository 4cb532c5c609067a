// Fused unembedding + softmax cross-entropy at bf16 (see unembed_ce.cc).
#pragma once
#include <cstdint>

namespace saekit {

// logits = x W + bias (x [rows × d], W [d × vocab], bias [vocab] or null; products bf16 with float32 accumulation,
// the bias added in float32) → nll[r] = −log softmax(logits_r)[targets[r]] (NaN where targets[r] == ignore).
// With grad, G = scale·(softmax − onehot) (zero rows where ignored) gives dx = G Wᵀ, dw = xᵀ G, db = Σ_r G
// (each overwritten; null skips it). The logits are never stored: tiles of them are computed twice (loss pass,
// gradient pass) in cache. Returns false, computing nothing, where the AVX512-BF16 path is not active.
bool unembed_cross_entropy_bf16(const float* x, long rows, long d, const float* w, long vocab, const float* bias,
                                const int32_t* targets, int32_t ignore, bool grad, float scale, float* nll, float* dx,
                                float* dw, float* db);

}  // namespace saekit
