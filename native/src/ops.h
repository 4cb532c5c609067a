// Non-GEMM kernels: elementwise activations, softmax, layer norm, reductions, AdamW, top-k and sparse codes.
// Semantics are documented in src/core/kernels.ts; arguments were checked by the TypeScript wrapper.
#pragma once
#include <cstdint>

namespace saekit {

void add_bias(float* x, long rows, long cols, const float* bias);
void axpy(float alpha, const float* x, float* y, long n);
void scale(float* x, long n, float alpha);
void gelu(const float* x, float* out, long n, bool tanh_approx);
void gelu_backward(const float* x, const float* dy, float* dx, long n, bool tanh_approx);
void relu(const float* x, float* out, long n);
void relu_backward(const float* x, const float* dy, float* dx, long n);
void softmax_rows(const float* x, float* out, long rows, long cols, bool log);
void softmax_rows_backward(const float* y, const float* dy, float* dx, long rows, long cols, bool log);
// Rows of logits → nll[r] = −log softmax(x_r)[targets[r]] (NaN where targets[r] == ignore). With grad, x is
// overwritten by scale·(softmax(x_r) − onehot(targets[r])) (zeros on ignored rows). Targets are checked by the caller.
void softmax_cross_entropy_rows(float* x, const int32_t* targets, long rows, long cols, int32_t ignore, bool grad,
                                float scale, float* nll);
// Positive entries of each row as sparse slots (value, column) in column order, k slots per row padded with
// (0, -1); counts[r] = the row's number of positive entries (may exceed k: then only the first k are written).
// Returns the largest count.
long positive_rows_to_sparse(const float* x, long rows, long cols, long k, float* values, int32_t* indices,
                             int32_t* counts);
// g_r -= (g_r·w_r / ‖w_r‖²) w_r for each row (keeps a gradient tangent to the unit-norm constraint on w).
void project_out_rows(float* g, const float* w, long rows, long cols);
// w_r /= ‖w_r‖ (rows of norm 0 are left as they are); norms[r] = the norm before (norms may be null).
void normalize_rows(float* w, long rows, long cols, float* norms);
void layer_norm(const float* x, long rows, long cols, const float* w, const float* b, float eps, float* out,
                float* mean, float* rstd);
void layer_norm_backward(const float* x, const float* dy, long rows, long cols, const float* w, const float* mean,
                         const float* rstd, float* dx, float* dw, float* db);
void sum_over_rows(const float* x, long rows, long cols, float* out, bool accumulate);
void sum_over_cols(const float* x, long rows, long cols, float* out, bool accumulate);
void adamw_step(float* p, const float* g, float* m, float* v, long n, float lr, float beta1, float beta2, float eps,
                float weight_decay, float bc1, float bc2);
// Row-wise top-k of x (+ bias per column when bias is not null).
void topk_rows(const float* x, long rows, long cols, long k, float* values, int32_t* indices, const float* bias);
void sparse_decode(long rows, long k, const int32_t* indices, const float* values, const float* w, long n,
                   float* out, bool accumulate);
// m = rows of w (the dictionary size).
void sparse_decode_backward(long rows, long k, const int32_t* indices, const float* values, const float* w, long m, long n,
                            const float* d_out, float* d_values, float* d_w);

}  // namespace saekit
