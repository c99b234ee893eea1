#!/usr/bin/env python3
# cg_lines.py CALLGRIND_OUT FUNCTION: the function's instructions per source
# line ("file:line Ir"), inlined code under its own file and line, each call's
# inclusive cost added to the calling line. Reads callgrind's output format
# (valgrind --tool=callgrind --dump-instr=yes); for grouping a function's
# lines into stages (bench/README.md, "Per-record cost by stage: the client").
import re, sys, collections
path, fnname = sys.argv[1], sys.argv[2]
names = {'fl': {}, 'fn': {}, 'cfn': {}, 'cfl': {}}
def nm(kind, v):
    m = re.match(r'\((\d+)\)(?: (.*))?', v)
    if not m: return v
    tbl = names['fn' if kind in ('fn', 'cfn') else 'fl']
    if m.group(2) is not None: tbl[m.group(1)] = m.group(2)
    return tbl.get(m.group(1), '?')
cost = collections.Counter()
fl = fi = fn = None; last = [0, 0]
for line in open(path):
    line = line.rstrip('\n')
    m = re.match(r'(fl|fi|fe|fn|cfn|cfl|cfi|ob|cob)=(.*)', line)
    if m:
        k, v = m.groups()
        if k == 'fl': fl = fi = nm('fl', v)
        elif k in ('fi', 'fe'): fi = nm('fl', v)
        elif k == 'fn': fn = nm('fn', v)
        elif k in ('cfn',): nm('fn', v)
        elif k in ('cfl', 'cfi'): nm('fl', v)
        continue
    if line.startswith('calls='):
        continue  # the next cost line is the call's inclusive cost
    if not line or not (line[0] in '+-*0123456789'): continue
    parts = line.split()
    pos = []
    for i, p in enumerate(parts[:2]):
        if p == '*': pos.append(last[i])
        elif p[0] in '+-': pos.append(last[i] + int(p, 0))
        else: pos.append(int(p, 0))
    last = pos[:]
    c = int(parts[2]) if len(parts) > 2 else 0
    if fn == fnname:
        cost[(fi, pos[1])] += c
for (f, l), c in sorted(cost.items(), key=lambda x: (x[0][0] or '', x[0][1])):
    print(f"{f.split('/')[-1]}:{l} {c}")
