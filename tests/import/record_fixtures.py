"""Records egfuse's import fixtures: a seeded input and torch's output for each
.pt2 model. Run with torch 2.11:  python3 record_fixtures.py MODELS_DIR OUT_DIR

The input is generated from a documented formula (the same one the C++ test
uses, tests/import/fixture.cpp), so only the output is stored:
  x_0 = seed; x_{k+1} = (x_k * 6364136223846793005 + 1442695040888963407) mod 2^64
  integer inputs: element k = (x_{k+1} >> 33) mod bound
  float inputs:   element k = (x_{k+1} >> 40) / 2^24 * 2 - 1   (exact in f32)
Output file NAME.ref (text): header lines, then `sample INDEX VALUE` lines
(every STRIDE-th element of the flattened output; stride 1 = all of it).
"""
import sys, os, torch

MASK = (1 << 64) - 1
A, C = 6364136223846793005, 1442695040888963407

def lcg(seed, n):
    x = seed & MASK
    out = []
    for _ in range(n):
        x = (x * A + C) & MASK
        out.append(x)
    return out

def make_input(shape, dtype, seed, bound):
    n = 1
    for s in shape: n *= s
    xs = lcg(seed, n)
    if dtype == torch.int64:
        vals = [(x >> 33) % bound for x in xs]
        return torch.tensor(vals, dtype=torch.int64).reshape(shape)
    vals = [(x >> 40) / float(1 << 24) * 2.0 - 1.0 for x in xs]
    return torch.tensor(vals, dtype=torch.float32).reshape(shape)

MODELS = [
    # name, input shape, dtype, bound, output stride
    ("gpt2_tiny", [2, 32], torch.int64, 1000, 31),
    ("llama_tiny", [2, 32], torch.int64, 1000, 31),
    ("resnet18_slim", [2, 3, 224, 224], torch.float32, 0, 1),
]
SEED = 1

def main():
    src, out = sys.argv[1], sys.argv[2]
    torch.manual_seed(0)
    for name, shape, dtype, bound, stride in MODELS:
        ep = torch.export.load(os.path.join(src, name + ".pt2"))
        mod = ep.module()
        x = make_input(shape, dtype, SEED, bound)
        with torch.no_grad():
            y = mod(x)
        if isinstance(y, (tuple, list)): y = y[0]
        y = y.detach().float().contiguous()
        flat = y.reshape(-1)
        rows = y.reshape(-1, y.shape[-1])
        dt = "i64" if dtype == torch.int64 else "f32"
        with open(os.path.join(out, name + ".ref"), "w") as f:
            f.write(f"# torch {torch.__version__} output of {name}.pt2 on a seeded input (tests/import/record_fixtures.py)\n")
            f.write(f"model {name}\n")
            f.write(f"input {dt} {len(shape)} {' '.join(map(str, shape))} seed {SEED} bound {bound}\n")
            f.write(f"input_head {' '.join(repr(float(v)) for v in x.reshape(-1)[:8].tolist())}\n")
            f.write(f"output f32 {y.dim()} {' '.join(map(str, y.shape))}\n")
            f.write(f"mean {float(flat.double().mean())!r}\n")
            f.write(f"absmax {float(flat.abs().max())!r}\n")
            am = rows.argmax(dim=-1).tolist()
            f.write(f"argmax {len(am)} {' '.join(map(str, am))}\n")
            f.write(f"stride {stride}\n")
            for i in range(0, flat.numel(), stride):
                f.write(f"sample {i} {float(flat[i])!r}\n")
        print(name, "out", list(y.shape), "mean", float(flat.mean()), "absmax", float(flat.abs().max()), flush=True)
        # How far f32 is from f64 on this input: a floor for the test's tolerance.
        try:
            m64 = torch.export.load(os.path.join(src, name + ".pt2")).module().double()
            with torch.no_grad():
                y64 = m64(x if dtype == torch.int64 else x.double())
            if isinstance(y64, (tuple, list)): y64 = y64[0]
            print(name, "f32 vs f64 max abs diff", float((y64 - y.double()).abs().max()), flush=True)
        except Exception as e:
            print(name, "f64 run failed:", repr(e)[:200], flush=True)

if __name__ == "__main__":
    main()
