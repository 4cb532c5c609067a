// N-API surface of the kernels: argument unpacking only. Extents were checked by src/core/native.ts; here we
// check types (Float32Array / Int32Array) so a wrong call throws instead of reading garbage.
#include <node_api.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <thread>

#include "cpu.h"
#include "gemm.h"
#include "ops.h"
#include "peak.h"
#include "thread_pool.h"
#include "unembed_ce.h"

namespace saekit {
// analyze_kernels.cc: analyze's per-feature kernels (logitRowSummaries).
void register_analyze_kernels(napi_env env, napi_value exports);

namespace {

struct ArgError {
  std::string message;
};

class Args {
 public:
  Args(napi_env env, napi_callback_info info, size_t expected) : env_(env) {
    argc_ = kMax;
    napi_get_cb_info(env, info, &argc_, argv_, nullptr, nullptr);
    if (argc_ < expected) throw ArgError{"expected " + std::to_string(expected) + " arguments, got " + std::to_string(argc_)};
  }
  napi_value raw(size_t i) const { return argv_[i]; }

  double number(size_t i) const {
    double v;
    if (napi_get_value_double(env_, argv_[i], &v) != napi_ok) throw ArgError{"argument " + std::to_string(i) + " must be a number"};
    return v;
  }
  long integer(size_t i) const {
    const double v = number(i);
    if (!std::isfinite(v) || v != std::floor(v)) throw ArgError{"argument " + std::to_string(i) + " must be an integer"};
    return static_cast<long>(v);
  }
  bool boolean(size_t i) const {
    bool v;
    if (napi_get_value_bool(env_, argv_[i], &v) != napi_ok) throw ArgError{"argument " + std::to_string(i) + " must be a boolean"};
    return v;
  }
  std::string string(size_t i) const {
    char buf[64];
    size_t len = 0;
    if (napi_get_value_string_utf8(env_, argv_[i], buf, sizeof(buf), &len) != napi_ok) throw ArgError{"argument " + std::to_string(i) + " must be a string"};
    return std::string(buf, len);
  }
  bool is_null(size_t i) const {
    napi_valuetype t;
    napi_typeof(env_, argv_[i], &t);
    return t == napi_null || t == napi_undefined;
  }
  // Float32Array data pointer and length; nullptr for null when nullable.
  float* f32(size_t i, bool nullable = false, size_t* length = nullptr) const {
    if (nullable && is_null(i)) return nullptr;
    return static_cast<float*>(typed(i, napi_float32_array, "a Float32Array", length));
  }
  int32_t* i32(size_t i) const { return static_cast<int32_t*>(typed(i, napi_int32_array, "an Int32Array", nullptr)); }

 private:
  void* typed(size_t i, napi_typedarray_type want, const char* what, size_t* length) const {
    bool is_typed = false;
    napi_is_typedarray(env_, argv_[i], &is_typed);
    if (!is_typed) throw ArgError{"argument " + std::to_string(i) + " must be " + what};
    napi_typedarray_type type;
    size_t len;
    void* data;
    napi_value buffer;
    size_t offset;
    napi_get_typedarray_info(env_, argv_[i], &type, &len, &data, &buffer, &offset);
    if (type != want) throw ArgError{"argument " + std::to_string(i) + " must be " + what};
    if (length) *length = len;
    return data;
  }
  static constexpr size_t kMax = 16;
  napi_env env_;
  size_t argc_;
  napi_value argv_[kMax];
};

napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

// Wraps a kernel call: converts ArgError / std::exception into a JS exception.
template <typename F>
napi_value guarded(napi_env env, F&& body) {
  try {
    return body();
  } catch (const ArgError& e) {
    napi_throw_type_error(env, nullptr, e.message.c_str());
  } catch (const std::exception& e) {
    napi_throw_error(env, nullptr, e.what());
  }
  return nullptr;
}

#define SAEKIT_FN(name) napi_value name(napi_env env, napi_callback_info info)

GemmArgs gemm_args(const Args& a) {
  return GemmArgs{a.boolean(0), a.boolean(1), a.integer(2), a.integer(3), a.integer(4), static_cast<float>(a.number(5)),
                  a.f32(6), a.integer(7), a.f32(8), a.integer(9), static_cast<float>(a.number(10)), a.f32(11), a.integer(12)};
}

SAEKIT_FN(Init) {
  return guarded(env, [&] {
    Args a(env, info, 2);
    long threads = a.integer(0);
    if (threads <= 0) threads = static_cast<long>(std::max(1u, std::thread::hardware_concurrency()));
    const std::string want = a.string(1);
    Isa isa = detect_isa();
    if (want == "scalar") isa = Isa::kScalar;
    else if (want == "avx2" && isa != Isa::kScalar) isa = Isa::kAvx2;
    set_active_isa(isa);
    const int n = resize_pool(static_cast<int>(threads));
    napi_value result, v;
    napi_create_object(env, &result);
    napi_create_string_utf8(env, isa_name(isa), NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, result, "isa", v);
    napi_create_int32(env, n, &v);
    napi_set_named_property(env, result, "threads", v);
    const auto features = cpu_features();
    napi_create_array_with_length(env, features.size(), &v);
    for (size_t i = 0; i < features.size(); ++i) {
      napi_value s;
      napi_create_string_utf8(env, features[i].c_str(), NAPI_AUTO_LENGTH, &s);
      napi_set_element(env, v, static_cast<uint32_t>(i), s);
    }
    napi_set_named_property(env, result, "cpuFeatures", v);
    // bf16 follows the ISA request: a lowered ISA (testing) also lowers bf16 to the emulated path.
    const Bf16Path bf16 = isa == Isa::kAvx512 ? detect_bf16_path() : Bf16Path::kEmulated;
    set_active_bf16_path(bf16);
    napi_create_string_utf8(env, bf16_path_name(bf16), NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, result, "bf16Path", v);
    const std::string amx = amx_unavailable_reason();
    napi_create_string_utf8(env, amx.c_str(), NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, result, "amxUnavailable", v);
    return result;
  });
}

SAEKIT_FN(SetThreads) {
  return guarded(env, [&] {
    Args a(env, info, 1);
    napi_value v;
    napi_create_int32(env, resize_pool(static_cast<int>(a.integer(0))), &v);
    return v;
  });
}

SAEKIT_FN(Gemm) {
  return guarded(env, [&] {
    Args a(env, info, 13);
    sgemm(gemm_args(a));
    return undefined(env);
  });
}

SAEKIT_FN(GemmBf16) {
  return guarded(env, [&] {
    Args a(env, info, 13);
    gemm_bf16(gemm_args(a));
    return undefined(env);
  });
}

// packBf16(transB, K, N, b, ldb) → an external holding op(B) packed for the bf16 kernels (and a reference to b,
// which the emulated and dot-shaped cases still read).
struct PackedHolder {
  std::unique_ptr<PackedB> packed;
  napi_ref source = nullptr;
};

SAEKIT_FN(PackBf16) {
  return guarded(env, [&] {
    Args a(env, info, 5);
    auto* h = new PackedHolder{pack_b_bf16(a.boolean(0), a.integer(1), a.integer(2), a.f32(3), a.integer(4)), nullptr};
    napi_create_reference(env, a.raw(3), 1, &h->source);
    napi_value ext;
    napi_create_external(
        env, h,
        [](napi_env env, void* data, void*) {
          auto* h = static_cast<PackedHolder*>(data);
          napi_delete_reference(env, h->source);
          delete h;
        },
        nullptr, &ext);
    return ext;
  });
}

// gemmBf16Packed(transA, M, alpha, a, lda, packed, beta, c, ldc): C = alpha·op(A)·op(B) + beta·C with B pre-packed.
SAEKIT_FN(GemmBf16Packed) {
  return guarded(env, [&] {
    Args a(env, info, 9);
    void* data = nullptr;
    napi_valuetype t;
    napi_typeof(env, a.raw(5), &t);
    if (t != napi_external || napi_get_value_external(env, a.raw(5), &data) != napi_ok || !data)
      throw ArgError{"argument 5 must be a packed B (from packBf16)"};
    const PackedB& p = *static_cast<PackedHolder*>(data)->packed;
    GemmArgs g{a.boolean(0), p.trans_b, a.integer(1), p.n, p.k, static_cast<float>(a.number(2)), a.f32(3), a.integer(4),
               p.b, p.ldb, static_cast<float>(a.number(6)), a.f32(7), a.integer(8)};
    gemm_bf16_packed(g, p);
    return undefined(env);
  });
}

// setBf16Path("amx" | "avx512bf16" | "emulated"): lowers the bf16 path (tests); never raises it above what the
// CPU and the active ISA support. Returns the path now in use.
SAEKIT_FN(SetBf16Path) {
  return guarded(env, [&] {
    Args a(env, info, 1);
    const std::string want = a.string(0);
    const Bf16Path best = active_isa() == Isa::kAvx512 ? detect_bf16_path() : Bf16Path::kEmulated;
    Bf16Path path;
    if (want == "amx") path = Bf16Path::kAmx;
    else if (want == "avx512bf16") path = Bf16Path::kAvx512Bf16;
    else if (want == "emulated") path = Bf16Path::kEmulated;
    else throw ArgError{"bf16 path must be amx, avx512bf16 or emulated, got \"" + want + "\""};
    if (static_cast<int>(path) > static_cast<int>(best)) path = best;
    set_active_bf16_path(path);
    napi_value v;
    napi_create_string_utf8(env, bf16_path_name(path), NAPI_AUTO_LENGTH, &v);
    return v;
  });
}

// gemmAsync: runs on a libuv worker (and the pool) so the event loop stays free; the typed arrays are held by
// references until completion.
struct GemmWork {
  GemmArgs args;
  bool bf16;
  napi_ref refs[3];
  napi_deferred deferred;
  napi_async_work work;
  std::string error;
};

napi_value gemm_async(napi_env env, napi_callback_info info, bool bf16) {
  return guarded(env, [&] {
    Args a(env, info, 13);
    auto* w = new GemmWork{gemm_args(a), bf16, {}, nullptr, nullptr, {}};
    napi_create_reference(env, a.raw(6), 1, &w->refs[0]);
    napi_create_reference(env, a.raw(8), 1, &w->refs[1]);
    napi_create_reference(env, a.raw(11), 1, &w->refs[2]);
    napi_value promise, name;
    napi_create_promise(env, &w->deferred, &promise);
    napi_create_string_utf8(env, "saekit.gemm", NAPI_AUTO_LENGTH, &name);
    napi_create_async_work(
        env, nullptr, name,
        [](napi_env, void* data) {
          auto* w = static_cast<GemmWork*>(data);
          try {
            if (w->bf16) gemm_bf16(w->args);
            else sgemm(w->args);
          } catch (const std::exception& e) {
            w->error = e.what();
          }
        },
        [](napi_env env, napi_status, void* data) {
          auto* w = static_cast<GemmWork*>(data);
          for (napi_ref r : w->refs) napi_delete_reference(env, r);
          if (w->error.empty()) {
            napi_resolve_deferred(env, w->deferred, undefined(env));
          } else {
            napi_value msg, err;
            napi_create_string_utf8(env, w->error.c_str(), NAPI_AUTO_LENGTH, &msg);
            napi_create_error(env, nullptr, msg, &err);
            napi_reject_deferred(env, w->deferred, err);
          }
          napi_delete_async_work(env, w->work);
          delete w;
        },
        w, &w->work);
    napi_queue_async_work(env, w->work);
    return promise;
  });
}

SAEKIT_FN(GemmAsync) { return gemm_async(env, info, false); }
SAEKIT_FN(GemmBf16Async) { return gemm_async(env, info, true); }

SAEKIT_FN(AddBias) {
  return guarded(env, [&] {
    Args a(env, info, 4);
    add_bias(a.f32(0), a.integer(1), a.integer(2), a.f32(3));
    return undefined(env);
  });
}

SAEKIT_FN(Axpy) {
  return guarded(env, [&] {
    Args a(env, info, 3);
    size_t n = 0;
    const float* x = a.f32(1, false, &n);
    axpy(static_cast<float>(a.number(0)), x, a.f32(2), static_cast<long>(n));
    return undefined(env);
  });
}

SAEKIT_FN(Scale) {
  return guarded(env, [&] {
    Args a(env, info, 2);
    size_t n = 0;
    float* x = a.f32(0, false, &n);
    scale(x, static_cast<long>(n), static_cast<float>(a.number(1)));
    return undefined(env);
  });
}

SAEKIT_FN(Gelu) {
  return guarded(env, [&] {
    Args a(env, info, 3);
    size_t n = 0;
    const float* x = a.f32(0, false, &n);
    gelu(x, a.f32(1), static_cast<long>(n), a.boolean(2));
    return undefined(env);
  });
}

SAEKIT_FN(GeluBackward) {
  return guarded(env, [&] {
    Args a(env, info, 4);
    size_t n = 0;
    const float* x = a.f32(0, false, &n);
    gelu_backward(x, a.f32(1), a.f32(2), static_cast<long>(n), a.boolean(3));
    return undefined(env);
  });
}

SAEKIT_FN(Relu) {
  return guarded(env, [&] {
    Args a(env, info, 2);
    size_t n = 0;
    const float* x = a.f32(0, false, &n);
    relu(x, a.f32(1), static_cast<long>(n));
    return undefined(env);
  });
}

SAEKIT_FN(ReluBackward) {
  return guarded(env, [&] {
    Args a(env, info, 3);
    size_t n = 0;
    const float* x = a.f32(0, false, &n);
    relu_backward(x, a.f32(1), a.f32(2), static_cast<long>(n));
    return undefined(env);
  });
}

SAEKIT_FN(SoftmaxRows) {
  return guarded(env, [&] {
    Args a(env, info, 5);
    softmax_rows(a.f32(0), a.f32(1), a.integer(2), a.integer(3), a.boolean(4));
    return undefined(env);
  });
}

SAEKIT_FN(SoftmaxRowsBackward) {
  return guarded(env, [&] {
    Args a(env, info, 6);
    softmax_rows_backward(a.f32(0), a.f32(1), a.f32(2), a.integer(3), a.integer(4), a.boolean(5));
    return undefined(env);
  });
}

SAEKIT_FN(SoftmaxCrossEntropyRows) {
  return guarded(env, [&] {
    Args a(env, info, 8);
    softmax_cross_entropy_rows(a.f32(0), a.i32(1), a.integer(2), a.integer(3), static_cast<int32_t>(a.integer(4)),
                               a.boolean(5), static_cast<float>(a.number(6)), a.f32(7));
    return undefined(env);
  });
}

// unembedCrossEntropyBf16(x, rows, d, w, vocab, bias|null, targets, ignore, grad, scale, nll, dx|null, dw|null,
// db|null) → false when the AVX512-BF16 path is not active (nothing computed; the caller uses the chunked route).
SAEKIT_FN(UnembedCrossEntropyBf16) {
  return guarded(env, [&] {
    Args a(env, info, 14);
    const bool done = unembed_cross_entropy_bf16(a.f32(0), a.integer(1), a.integer(2), a.f32(3), a.integer(4),
                                                 a.f32(5, true), a.i32(6), static_cast<int32_t>(a.integer(7)),
                                                 a.boolean(8), static_cast<float>(a.number(9)), a.f32(10),
                                                 a.f32(11, true), a.f32(12, true), a.f32(13, true));
    napi_value v;
    napi_get_boolean(env, done, &v);
    return v;
  });
}

SAEKIT_FN(LayerNorm) {
  return guarded(env, [&] {
    Args a(env, info, 9);
    layer_norm(a.f32(0), a.integer(1), a.integer(2), a.f32(3, true), a.f32(4, true), static_cast<float>(a.number(5)),
               a.f32(6), a.f32(7), a.f32(8));
    return undefined(env);
  });
}

SAEKIT_FN(LayerNormBackward) {
  return guarded(env, [&] {
    Args a(env, info, 10);
    layer_norm_backward(a.f32(0), a.f32(1), a.integer(2), a.integer(3), a.f32(4, true), a.f32(5), a.f32(6), a.f32(7),
                        a.f32(8, true), a.f32(9, true));
    return undefined(env);
  });
}

SAEKIT_FN(TopkRows) {
  return guarded(env, [&] {
    Args a(env, info, 7);
    topk_rows(a.f32(0), a.integer(1), a.integer(2), a.integer(3), a.f32(4), a.i32(5), a.f32(6, true));
    return undefined(env);
  });
}

SAEKIT_FN(SparseDecode) {
  return guarded(env, [&] {
    Args a(env, info, 8);
    sparse_decode(a.integer(0), a.integer(1), a.i32(2), a.f32(3), a.f32(4), a.integer(5), a.f32(6), a.boolean(7));
    return undefined(env);
  });
}

SAEKIT_FN(SparseDecodeBackward) {
  return guarded(env, [&] {
    Args a(env, info, 9);
    size_t w_len = 0;
    const float* w = a.f32(4, false, &w_len);
    const long n = a.integer(5);
    sparse_decode_backward(a.integer(0), a.integer(1), a.i32(2), a.f32(3), w, n > 0 ? static_cast<long>(w_len) / n : 0, n, a.f32(6),
                           a.f32(7, true), a.f32(8, true));
    return undefined(env);
  });
}

SAEKIT_FN(PositiveRowsToSparse) {
  return guarded(env, [&] {
    Args a(env, info, 7);
    const long most = positive_rows_to_sparse(a.f32(0), a.integer(1), a.integer(2), a.integer(3), a.f32(4), a.i32(5),
                                              a.i32(6));
    napi_value v;
    napi_create_double(env, static_cast<double>(most), &v);
    return v;
  });
}

SAEKIT_FN(ProjectOutRows) {
  return guarded(env, [&] {
    Args a(env, info, 4);
    project_out_rows(a.f32(0), a.f32(1), a.integer(2), a.integer(3));
    return undefined(env);
  });
}

SAEKIT_FN(NormalizeRows) {
  return guarded(env, [&] {
    Args a(env, info, 4);
    normalize_rows(a.f32(0), a.integer(1), a.integer(2), a.f32(3, true));
    return undefined(env);
  });
}

SAEKIT_FN(SumOverRows) {
  return guarded(env, [&] {
    Args a(env, info, 5);
    sum_over_rows(a.f32(0), a.integer(1), a.integer(2), a.f32(3), a.boolean(4));
    return undefined(env);
  });
}

SAEKIT_FN(SumOverCols) {
  return guarded(env, [&] {
    Args a(env, info, 5);
    sum_over_cols(a.f32(0), a.integer(1), a.integer(2), a.f32(3), a.boolean(4));
    return undefined(env);
  });
}

SAEKIT_FN(AdamwStep) {
  return guarded(env, [&] {
    Args a(env, info, 11);
    size_t n = 0;
    float* p = a.f32(0, false, &n);
    adamw_step(p, a.f32(1), a.f32(2), a.f32(3), static_cast<long>(n), static_cast<float>(a.number(4)),
               static_cast<float>(a.number(5)), static_cast<float>(a.number(6)), static_cast<float>(a.number(7)),
               static_cast<float>(a.number(8)), static_cast<float>(a.number(9)), static_cast<float>(a.number(10)));
    return undefined(env);
  });
}

SAEKIT_FN(FmaPeakGflops) {
  return guarded(env, [&] {
    napi_value v;
    napi_create_double(env, fma_peak_gflops(), &v);
    (void)info;
    return v;
  });
}

SAEKIT_FN(Bf16PeakGflops) {
  return guarded(env, [&] {
    napi_value v;
    napi_create_double(env, bf16_peak_gflops(active_bf16_path()), &v);
    (void)info;
    return v;
  });
}

napi_value ModuleInit(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
      {"init", nullptr, Init, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"gemm", nullptr, Gemm, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"gemmAsync", nullptr, GemmAsync, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"gemmBf16", nullptr, GemmBf16, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"gemmBf16Async", nullptr, GemmBf16Async, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setBf16Path", nullptr, SetBf16Path, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"packBf16", nullptr, PackBf16, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"gemmBf16Packed", nullptr, GemmBf16Packed, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"bf16PeakGflops", nullptr, Bf16PeakGflops, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"addBias", nullptr, AddBias, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"axpy", nullptr, Axpy, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"scale", nullptr, Scale, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"gelu", nullptr, Gelu, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"geluBackward", nullptr, GeluBackward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"relu", nullptr, Relu, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"reluBackward", nullptr, ReluBackward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"softmaxRows", nullptr, SoftmaxRows, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"softmaxRowsBackward", nullptr, SoftmaxRowsBackward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"softmaxCrossEntropyRows", nullptr, SoftmaxCrossEntropyRows, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"unembedCrossEntropyBf16", nullptr, UnembedCrossEntropyBf16, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"layerNorm", nullptr, LayerNorm, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"layerNormBackward", nullptr, LayerNormBackward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"topkRows", nullptr, TopkRows, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sparseDecode", nullptr, SparseDecode, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sparseDecodeBackward", nullptr, SparseDecodeBackward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"positiveRowsToSparse", nullptr, PositiveRowsToSparse, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"projectOutRows", nullptr, ProjectOutRows, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"normalizeRows", nullptr, NormalizeRows, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sumOverRows", nullptr, SumOverRows, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sumOverCols", nullptr, SumOverCols, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"fmaPeakGflops", nullptr, FmaPeakGflops, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"adamwStep", nullptr, AdamwStep, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  register_analyze_kernels(env, exports);
  return exports;
}

}  // namespace
}  // namespace saekit

NAPI_MODULE(NODE_GYP_MODULE_NAME, saekit::ModuleInit)
