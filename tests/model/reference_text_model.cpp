#include "reference_text_model.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace ref {
namespace {

using Matrix = std::vector<double>;

// Every tensor of every .safetensors file in the directory, as doubles.
std::map<std::string, Matrix> read_tensors(const std::filesystem::path& dir) {
  std::map<std::string, Matrix> out;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".safetensors") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    uint64_t n = 0;
    in.read(reinterpret_cast<char*>(&n), 8);
    std::string header(n, '\0');
    in.read(header.data(), static_cast<std::streamsize>(n));
    const std::vector<char> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto index = nlohmann::json::parse(header);
    for (const auto& [name, t] : index.items()) {
      if (name == "__metadata__") continue;
      const auto begin = t["data_offsets"][0].get<size_t>(), end = t["data_offsets"][1].get<size_t>();
      const std::string dtype = t["dtype"];
      Matrix m;
      for (size_t off = begin; off < end;) {
        if (dtype == "F32") {
          float f;
          std::memcpy(&f, &data[off], 4);
          m.push_back(f);
          off += 4;
        } else {
          uint16_t h;
          std::memcpy(&h, &data[off], 2);
          off += 2;
          if (dtype == "BF16") {
            uint32_t bits = uint32_t{h} << 16;
            float f;
            std::memcpy(&f, &bits, 4);
            m.push_back(f);
          } else {  // F16
            const int e = (h >> 10) & 31, mant = h & 1023;
            const double v = e == 0 ? std::ldexp(mant, -24) : std::ldexp(1024 + mant, e - 25);
            m.push_back((h & 0x8000) ? -v : v);
          }
        }
      }
      out[name] = std::move(m);
    }
  }
  return out;
}

// y[r][o] = Σ_i x[r][i] · W[o][i]
Matrix linear(const Matrix& x, size_t rows, const Matrix& w, size_t in, size_t out) {
  Matrix y(rows * out, 0.0);
  for (size_t r = 0; r < rows; ++r)
    for (size_t o = 0; o < out; ++o) {
      double s = 0;
      for (size_t i = 0; i < in; ++i) s += x[r * in + i] * w[o * in + i];
      y[r * out + o] = s;
    }
  return y;
}

void rms_norm(Matrix& x, size_t dim, const Matrix& w, double eps) {
  for (size_t r = 0; r < x.size() / dim; ++r) {
    double ss = 0;
    for (size_t i = 0; i < dim; ++i) ss += x[r * dim + i] * x[r * dim + i];
    const double inv = 1 / std::sqrt(ss / dim + eps);
    for (size_t i = 0; i < dim; ++i) x[r * dim + i] *= inv * w[i];
  }
}

}  // namespace

std::vector<double> text_logits(const std::filesystem::path& dir, const std::vector<int32_t>& ids,
                                std::vector<Pos> positions) {
  std::ifstream cfg_in(dir / "config.json");
  const auto all = nlohmann::json::parse(cfg_in);
  const auto& c = all["text_config"];
  const size_t hidden = c["hidden_size"], inter = c["intermediate_size"], vocab = c["vocab_size"];
  const size_t layers = c["num_hidden_layers"], nh = c["num_attention_heads"], nkv = c["num_key_value_heads"];
  const size_t hd = c["head_dim"];
  const double eps = c["rms_norm_eps"], theta = c["rope_theta"];
  const auto sec = c["rope_scaling"]["mrope_section"].get<std::vector<int>>();
  const auto w = read_tensors(dir);
  const auto W = [&](const std::string& name) -> const Matrix& {
    const auto it = w.find("model.language_model." + name);
    if (it == w.end()) throw std::runtime_error("reference: missing " + name);
    return it->second;
  };
  const size_t n = ids.size();
  if (positions.empty())
    for (size_t i = 0; i < n; ++i) positions.push_back({int64_t(i), int64_t(i), int64_t(i)});

  Matrix x(n * hidden);
  for (size_t r = 0; r < n; ++r)
    for (size_t i = 0; i < hidden; ++i) x[r * hidden + i] = W("embed_tokens.weight")[size_t(ids[r]) * hidden + i];

  // Interleaved M-RoPE: slot j follows h when j % 3 == 1 and j < 3·sec[1], w when j % 3 == 2
  // and j < 3·sec[2], else t.
  const auto rope = [&](Matrix& m, size_t heads) {
    for (size_t r = 0; r < n; ++r)
      for (size_t h = 0; h < heads; ++h) {
        double* v = &m[(r * heads + h) * hd];
        for (size_t j = 0; j < hd / 2; ++j) {
          const int64_t p = (j % 3 == 1 && j < size_t(3 * sec[1]))   ? positions[r].h
                            : (j % 3 == 2 && j < size_t(3 * sec[2])) ? positions[r].w
                                                                      : positions[r].t;
          const double angle = double(p) * std::pow(theta, -2.0 * double(j) / double(hd));
          const double a = v[j], b = v[j + hd / 2];
          v[j] = a * std::cos(angle) - b * std::sin(angle);
          v[j + hd / 2] = b * std::cos(angle) + a * std::sin(angle);
        }
      }
  };

  for (size_t l = 0; l < layers; ++l) {
    const std::string p = "layers." + std::to_string(l) + ".";
    Matrix h = x;
    rms_norm(h, hidden, W(p + "input_layernorm.weight"), eps);
    Matrix q = linear(h, n, W(p + "self_attn.q_proj.weight"), hidden, nh * hd);
    Matrix k = linear(h, n, W(p + "self_attn.k_proj.weight"), hidden, nkv * hd);
    Matrix v = linear(h, n, W(p + "self_attn.v_proj.weight"), hidden, nkv * hd);
    rms_norm(q, hd, W(p + "self_attn.q_norm.weight"), eps);
    rms_norm(k, hd, W(p + "self_attn.k_norm.weight"), eps);
    rope(q, nh);
    rope(k, nkv);
    Matrix attn(n * nh * hd, 0.0);
    for (size_t head = 0; head < nh; ++head) {
      const size_t kvh = head / (nh / nkv);
      for (size_t i = 0; i < n; ++i) {
        std::vector<double> s(i + 1);
        double mx = -1e300, sum = 0;
        for (size_t t = 0; t <= i; ++t) {
          double d = 0;
          for (size_t e = 0; e < hd; ++e) d += q[(i * nh + head) * hd + e] * k[(t * nkv + kvh) * hd + e];
          s[t] = d / std::sqrt(double(hd));
          mx = std::max(mx, s[t]);
        }
        for (auto& e : s) sum += (e = std::exp(e - mx));
        for (size_t t = 0; t <= i; ++t)
          for (size_t e = 0; e < hd; ++e) attn[(i * nh + head) * hd + e] += s[t] / sum * v[(t * nkv + kvh) * hd + e];
      }
    }
    const Matrix o = linear(attn, n, W(p + "self_attn.o_proj.weight"), nh * hd, hidden);
    for (size_t i = 0; i < x.size(); ++i) x[i] += o[i];
    h = x;
    rms_norm(h, hidden, W(p + "post_attention_layernorm.weight"), eps);
    Matrix g = linear(h, n, W(p + "mlp.gate_proj.weight"), hidden, inter);
    const Matrix u = linear(h, n, W(p + "mlp.up_proj.weight"), hidden, inter);
    for (size_t i = 0; i < g.size(); ++i) g[i] = g[i] / (1 + std::exp(-g[i])) * u[i];
    const Matrix d = linear(g, n, W(p + "mlp.down_proj.weight"), inter, hidden);
    for (size_t i = 0; i < x.size(); ++i) x[i] += d[i];
  }
  rms_norm(x, hidden, W("norm.weight"), eps);
  const bool tied = c.value("tie_word_embeddings", true);
  const Matrix& head = tied ? W("embed_tokens.weight") : w.at("lm_head.weight");
  return linear(x, n, head, hidden, vocab);
}

}  // namespace ref
