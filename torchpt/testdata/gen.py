"""Writes the torchpt test archives with torch itself (Debian's python3-torch 1.13.1 made the
committed ones): python3 torchpt/testdata/gen.py torchpt/testdata

state.pth / state_p4.pth: a state dict of every storage dtype, a transposed view and a sliced view
sharing one storage, a scalar, an empty tensor and an nn.Parameter, pickled with protocol 2 (torch's
default) and 4; state.json: each tensor's dtype, shape and values (row-major, as Python floats).
legacy.pth: the pre-1.6 format. module.pth: a whole nn.Module (not a state dict).
mingpt.pth / mingpt.json: a 2-layer minGPT MLP with LayerNorms (Othello-GPT's final.pth layout)."""
import collections, json, os, sys
import torch

out = sys.argv[1]
g = torch.Generator().manual_seed(1)
w = torch.randn(3, 5, generator=g)
sd = collections.OrderedDict()
sd["w"] = w
sd["w_t"] = w.t()                # stride (1, 5) on w's storage
sd["w_rows"] = w[1:]             # offset 5
sd["w_col"] = w[:, 2]            # stride (5,), offset 2
sd["f16"] = torch.randn(4, generator=g).half()
sd["bf16"] = torch.randn(2, 3, generator=g).bfloat16()
sd["f64"] = torch.randn(3, generator=g).double()
sd["i64"] = torch.arange(-3, 4)
sd["i32"] = torch.arange(5, dtype=torch.int32)
sd["u8"] = torch.arange(6, dtype=torch.uint8).reshape(2, 3)
sd["bool"] = torch.tensor([True, False, True])
sd["scalar"] = torch.tensor(2.5)
sd["empty"] = torch.zeros(0, 4)
sd["param"] = torch.nn.Parameter(torch.randn(2, 2, generator=g))
sd["epoch"] = 7                  # not a tensor: skipped
torch.save(sd, os.path.join(out, "state.pth"))
torch.save(sd, os.path.join(out, "state_p4.pth"), pickle_protocol=4)
torch.save(sd, os.path.join(out, "legacy.pth"), _use_new_zipfile_serialization=False)
torch.save(torch.nn.Linear(2, 2), os.path.join(out, "module.pth"))


def values(t):
    return {"dtype": {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
                      torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8", torch.bool: "BOOL"}[t.dtype],
            "shape": list(t.shape), "values": [float(x) for x in t.detach().reshape(-1).double().tolist()]}


with open(os.path.join(out, "state.json"), "w") as f:
    json.dump({k: values(v) for k, v in sd.items() if isinstance(v, torch.Tensor)}, f, indent=0)

# minGPT's MLP: mlp.0 = Linear(d, 4d) (weight [ff, d]), mlp.2 = Linear(4d, d) (weight [d, ff]).
d, ff = 8, 12
m = collections.OrderedDict()
for l in range(2):
    p = f"blocks.{l}."
    m[p + "ln1.weight"] = 1 + 0.1 * torch.randn(d, generator=g)
    m[p + "ln2.weight"] = 1 + 0.3 * torch.randn(d, generator=g)
    m[p + "ln2.bias"] = torch.randn(d, generator=g)
    m[p + "attn.key.weight"] = torch.randn(d, d, generator=g)
    m[p + "mlp.0.weight"] = torch.randn(ff, d, generator=g) + 0.2
    m[p + "mlp.0.bias"] = torch.randn(ff, generator=g)
    m[p + "mlp.2.weight"] = torch.randn(d, ff, generator=g) - 0.1
    m[p + "mlp.2.bias"] = torch.randn(d, generator=g)
m["tok_emb.weight"] = torch.randn(61, d, generator=g)
torch.save(m, os.path.join(out, "mingpt.pth"))
with open(os.path.join(out, "mingpt.json"), "w") as f:
    json.dump({k: values(v) for k, v in m.items()}, f, indent=0)
