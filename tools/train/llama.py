"""A Llama model in plain torch (RMSNorm, RoPE in the Hugging Face
rotate_half convention, SwiGLU, grouped-query attention, tied embeddings),
with an optional score head (LlamaForSequenceClassification) and a KV cache
for generation. Parameter names follow the Hugging Face checkpoints."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def pick_device(name="auto"):
    """"auto" = the GPU when torch sees one (the training scripts then take
    minutes instead of hours), else the CPU. TF32 matmuls on the GPU: these
    scripts train; the float64 references are always computed on the CPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    return torch.device(name)


class Config:
    def __init__(self, dim=128, n_layers=6, n_heads=4, n_kv_heads=2, hidden=384,
                 vocab=1025, max_pos=1024, theta=10000.0, eps=1e-5, dropout=0.0,
                 score_head=False):
        self.__dict__.update(locals())
        del self.__dict__["self"]

    @property
    def head_dim(self):
        return self.dim // self.n_heads

    def to_dict(self):
        return dict(self.__dict__)


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(cfg, positions, dtype):
    hd = cfg.head_dim
    inv = 1.0 / (cfg.theta ** (torch.arange(0, hd, 2, dtype=torch.float64,
                                            device=positions.device) / hd))
    ang = positions.to(torch.float64)[..., None] * inv
    ang = torch.cat([ang, ang], dim=-1)
    return ang.cos().to(dtype), ang.sin().to(dtype)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        hd = cfg.head_dim
        self.q_proj = nn.Linear(cfg.dim, cfg.n_heads * hd, bias=False)
        self.k_proj = nn.Linear(cfg.dim, cfg.n_kv_heads * hd, bias=False)
        self.v_proj = nn.Linear(cfg.dim, cfg.n_kv_heads * hd, bias=False)
        self.o_proj = nn.Linear(cfg.n_heads * hd, cfg.dim, bias=False)

    def forward(self, x, cos, sin, cache=None, mask=None):
        B, T, _ = x.shape
        c = self.cfg
        hd = c.head_dim
        q = self.q_proj(x).view(B, T, c.n_heads, hd).transpose(1, 2)
        k = self.k_proj(x).view(B, T, c.n_kv_heads, hd).transpose(1, 2)
        v = self.v_proj(x).view(B, T, c.n_kv_heads, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if cache is not None:
            if "k" in cache:
                k = torch.cat([cache["k"], k], dim=2)
                v = torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
        rep = c.n_heads // c.n_kv_heads
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        S = k.shape[2]
        causal = torch.ones(T, S, dtype=torch.bool, device=x.device).tril(diagonal=S - T)
        if mask is not None and mask.dim() == 3:  # [B, T, S]: the whole pattern
            causal = mask[:, None]
        elif mask is not None:  # [B, S] True = may attend (left padding)
            causal = causal[None, None] & mask[:, None, None, :]
        att = att.masked_fill(~causal, float("-inf")).softmax(-1)
        att = F.dropout(att, c.dropout, self.training)
        y = (att @ v).transpose(1, 2).reshape(B, T, c.n_heads * hd)
        return F.dropout(self.o_proj(y), c.dropout, self.training)


class MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.dim, cfg.hidden, bias=False)
        self.up_proj = nn.Linear(cfg.dim, cfg.hidden, bias=False)
        self.down_proj = nn.Linear(cfg.hidden, cfg.dim, bias=False)
        self.p = cfg.dropout

    def forward(self, x):
        y = self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))
        return F.dropout(y, self.p, self.training)


class Layer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.dim, cfg.eps)
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg.dim, cfg.eps)
        self.mlp = MLP(cfg)

    def forward(self, x, cos, sin, cache=None, mask=None):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, cache, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class Trunk(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab, cfg.dim)
        self.layers = nn.ModuleList(Layer(cfg) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.dim, cfg.eps)


class Llama(nn.Module):
    """forward(ids) -> logits [B, T, V] (LM) or scores [B, T] (score head)."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.model = Trunk(cfg)
        if cfg.score_head:
            self.score = nn.Linear(cfg.dim, 1, bias=False)
        self.apply(self._init)
        for n, p in self.named_parameters():
            if n.endswith("o_proj.weight") or n.endswith("down_proj.weight"):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * cfg.n_layers))

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)

    def hidden(self, ids, caches=None, start=0, mask=None, positions=None):
        x = self.model.embed_tokens(ids)
        x = F.dropout(x, self.cfg.dropout, self.training)
        if positions is None:
            positions = torch.arange(start, start + ids.shape[1], device=ids.device)
        cos, sin = rope_tables(self.cfg, positions, x.dtype)
        if positions.dim() == 2:  # per-row positions [B, T]
            cos, sin = cos[:, None], sin[:, None]
        for i, layer in enumerate(self.model.layers):
            x = layer(x, cos, sin, None if caches is None else caches[i], mask)
        return self.model.norm(x)

    def forward(self, ids, caches=None, start=0, mask=None, positions=None):
        h = self.hidden(ids, caches, start, mask, positions)
        if self.cfg.score_head:
            return self.score(h).squeeze(-1)
        return h @ self.model.embed_tokens.weight.t()
