import json, math, sys
# usage: python compare.py SITTING_DIR (before-*.json and after-*.json of one sitting)
def load(p):
    d = json.load(open(p))
    return d, {(r['op'], r['pass'], r['dtype'], tuple(r['shape']), r.get('dim'), r['layout'], r['variant']): r for r in d['results']}
out = []
for mode in ("default", "reuse"):
    db, b = load(f"{sys.argv[1]}/before-{mode}.json"); da, a = load(f"{sys.argv[1]}/after-{mode}.json")
    keys = sorted(set(b) & set(a))
    gm = lambda rs: math.exp(sum(math.log(x) for x in rs) / len(rs))
    sb = gm([b[k]['speedup'] for k in keys]); sa = gm([a[k]['speedup'] for k in keys])
    ratio = [b[k]['ours_ms'] / a[k]['ours_ms'] for k in keys]
    big = [k for k in keys if k[2] == 'float32']
    out.append(f"{mode}: {len(keys)} cases; geomean speedup vs ATen before {sb:.2f}x, after {sa:.2f}x; "
               f"geomean before/after ours_ms {gm(ratio):.3f} (min {min(ratio):.2f}, max {max(ratio):.2f}); "
               f"load {db['loadavg_start']}->{da['loadavg_end']}")
    worst = sorted(zip(ratio, keys))[:5]
    out.append("  slowest after (before_ms/after_ms): " + "; ".join(f"{k[0]} {k[1]} {k[2]} {list(k[3])} {k[5]} {k[6]}: {r:.2f}" for r, k in worst))
    sm = [(r, k) for r, k in zip(ratio, keys) if k[0].startswith(('softmax', 'log_softmax', 'prelu'))]
    out.append(f"  softmax/log_softmax/prelu cases : geomean {gm([r for r, _ in sm]):.3f} over {len(sm)}")
print("\n".join(out))
