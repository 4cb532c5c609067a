// Per-row loops of `saekit analyze` that scale with the number of features: the summary of each feature's logit
// weights over the vocabulary (131,072 features × 50,257 tokens is 6.6·10^9 values — too many for a JS loop).
// The reference is src/core/kernels-js.ts logitRowSummaries; this kernel gives bit-identical results: every sum is
// a sequential float64 sum in token order (no reassociation: the addon is built without -ffast-math), the bin
// edges use the same float64 expression, and the top / bottom lists the same insertion rule (ties: smaller id).
// Registered from binding.cc through register_analyze_kernels (its own argument unpacking, so this file is
// independent of binding.cc's helpers).
#include <node_api.h>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "thread_pool.h"

namespace saekit {
namespace {

double edge(double lo, double hi, long b, long n) { return b == n ? hi : lo + ((hi - lo) * static_cast<double>(b)) / static_cast<double>(n); }

// edges[b] = edge(lo, hi, b, n) for b = 0 … n, computed once per row (the same values: two divisions per value
// saved, which were most of the kernel's time at 131,072 rows × 50,257 columns).
long bin_of(double v, double lo, long n, double scale, const double* edges) {
  const double f = std::floor((v - lo) * scale);
  long b;
  if (!(f >= 0)) b = 0;
  else if (f >= static_cast<double>(n)) b = n - 1;
  else b = static_cast<long>(f);
  // (v − lo)·scale can round across an edge; step until edge(b) ≤ v < edge(b + 1) (one step in practice).
  while (b < n - 1 && v >= edges[b + 1]) ++b;
  while (b > 0 && v < edges[b]) --b;
  return b;
}

// One row: optional centring over the row (in place, float32 store of a float64 difference), then min, max,
// float64 sum, the k largest (descending) and k smallest (ascending) by insertion, mean, population std, histogram.
// Returns the first non-finite column, or -1.
long summarise_row(float* row, long cols, bool centre, long k, long bins, int32_t* top_tok, float* top_val,
                   int32_t* bot_tok, float* bot_val, int32_t* counts, double* stats) {
  if (centre) {
    double s = 0;
    for (long t = 0; t < cols; ++t) s += row[t];
    const double mean = s / static_cast<double>(cols);
    for (long t = 0; t < cols; ++t) row[t] = static_cast<float>(static_cast<double>(row[t]) - mean);
  }
  double lo = INFINITY, hi = -INFINITY, sum = 0;
  long n_hi = 0, n_lo = 0;
  for (long t = 0; t < cols; ++t) {
    const double v = row[t];
    if (!std::isfinite(v)) return t;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
    sum += v;
    if (k == 0) continue;
    if (n_hi < k || v > top_val[k - 1]) {
      long i = n_hi < k ? n_hi++ : k - 1;
      while (i > 0 && v > top_val[i - 1]) {
        top_val[i] = top_val[i - 1];
        top_tok[i] = top_tok[i - 1];
        --i;
      }
      top_val[i] = static_cast<float>(v);
      top_tok[i] = static_cast<int32_t>(t);
    }
    if (n_lo < k || v < bot_val[k - 1]) {
      long i = n_lo < k ? n_lo++ : k - 1;
      while (i > 0 && v < bot_val[i - 1]) {
        bot_val[i] = bot_val[i - 1];
        bot_tok[i] = bot_tok[i - 1];
        --i;
      }
      bot_val[i] = static_cast<float>(v);
      bot_tok[i] = static_cast<int32_t>(t);
    }
  }
  const double mean = sum / static_cast<double>(cols);
  double ss = 0;
  for (long b = 0; b < bins; ++b) counts[b] = 0;
  const double scale = hi > lo ? static_cast<double>(bins) / (hi - lo) : 0;
  std::vector<double> edges(static_cast<size_t>(bins) + 1);
  for (long b = 0; b <= bins; ++b) edges[b] = edge(lo, hi, b, bins);
  for (long t = 0; t < cols; ++t) {
    const double v = row[t];
    const double d = v - mean;
    ss += d * d;
    counts[hi > lo ? bin_of(v, lo, bins, scale, edges.data()) : bins - 1] += 1;
  }
  stats[0] = lo;
  stats[1] = hi;
  stats[2] = mean;
  stats[3] = std::sqrt(ss / static_cast<double>(cols));
  return -1;
}

// ---- N-API surface (argument unpacking; extents were checked by src/core/native.ts)

struct ArgError {
  std::string message;
};

void* typed(napi_env env, napi_value v, napi_typedarray_type want, const char* what, size_t i) {
  bool is_typed = false;
  napi_is_typedarray(env, v, &is_typed);
  napi_typedarray_type type;
  size_t len;
  void* data = nullptr;
  napi_value buffer;
  size_t offset;
  if (is_typed) napi_get_typedarray_info(env, v, &type, &len, &data, &buffer, &offset);
  if (!is_typed || type != want) throw ArgError{"argument " + std::to_string(i) + " must be " + what};
  return data;
}

long integer(napi_env env, napi_value v, size_t i) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || !std::isfinite(d) || d != std::floor(d)) {
    throw ArgError{"argument " + std::to_string(i) + " must be an integer"};
  }
  return static_cast<long>(d);
}

// logitRowSummaries(x f32 [rows, cols], rows, cols, centre, k, bins, topTok i32 [rows, k], topVal f32, botTok i32,
//                   botVal f32, counts i32 [rows, bins], stats f64 [rows, 4]) → −1, or row·cols + col of the first
// non-finite value (the caller names it).
napi_value LogitRowSummaries(napi_env env, napi_callback_info info) {
  try {
    size_t argc = 12;
    napi_value argv[12];
    napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
    if (argc < 12) throw ArgError{"expected 12 arguments, got " + std::to_string(argc)};
    float* x = static_cast<float*>(typed(env, argv[0], napi_float32_array, "a Float32Array", 0));
    const long rows = integer(env, argv[1], 1);
    const long cols = integer(env, argv[2], 2);
    bool centre = false;
    if (napi_get_value_bool(env, argv[3], &centre) != napi_ok) throw ArgError{"argument 3 must be a boolean"};
    const long k = integer(env, argv[4], 4);
    const long bins = integer(env, argv[5], 5);
    int32_t* top_tok = static_cast<int32_t*>(typed(env, argv[6], napi_int32_array, "an Int32Array", 6));
    float* top_val = static_cast<float*>(typed(env, argv[7], napi_float32_array, "a Float32Array", 7));
    int32_t* bot_tok = static_cast<int32_t*>(typed(env, argv[8], napi_int32_array, "an Int32Array", 8));
    float* bot_val = static_cast<float*>(typed(env, argv[9], napi_float32_array, "a Float32Array", 9));
    int32_t* counts = static_cast<int32_t*>(typed(env, argv[10], napi_int32_array, "an Int32Array", 10));
    double* stats = static_cast<double*>(typed(env, argv[11], napi_float64_array, "a Float64Array", 11));
    std::vector<long> bad(static_cast<size_t>(rows), -1);
    parallel_chunks(rows, 1, [&](long r0, long r1) {
      for (long r = r0; r < r1; ++r) {
        bad[r] = summarise_row(x + r * cols, cols, centre, k, bins, top_tok + r * k, top_val + r * k, bot_tok + r * k,
                               bot_val + r * k, counts + r * bins, stats + r * 4);
      }
    });
    double first_bad = -1;
    for (long r = 0; r < rows; ++r) {
      if (bad[r] >= 0) {
        first_bad = static_cast<double>(r) * static_cast<double>(cols) + static_cast<double>(bad[r]);
        break;
      }
    }
    napi_value out;
    napi_create_double(env, first_bad, &out);
    return out;
  } catch (const ArgError& e) {
    napi_throw_type_error(env, nullptr, e.message.c_str());
  } catch (const std::exception& e) {
    napi_throw_error(env, nullptr, e.what());
  }
  return nullptr;
}

}  // namespace

void register_analyze_kernels(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"logitRowSummaries", nullptr, LogitRowSummaries, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
}

}  // namespace saekit
