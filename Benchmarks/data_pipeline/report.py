"""The data pipeline benchmark's table (Scripts/bench-data-pipeline): per side the median
documents per second over the rounds, the median of the per-round ratios and their range; the
agreement of the two sides' decisions; language identification's accuracy on both sides against
the edition each paragraph comes from (simplified and traditional Chinese counted as one "zh",
which is all py3langid tells); the whole pipeline and each stage alone (ours, first round).
  python report.py WORK_FOLDER ROUNDS
"""
import json
import os
import statistics
import sys

work, rounds = sys.argv[1], int(sys.argv[2])
load = lambda name: json.load(open(os.path.join(work, name)))
ours = [load(f"ours-{r}.json") for r in range(1, rounds + 1)]
peers = {k: [load(f"peer-{k}-{r}.json") for r in range(1, rounds + 1)] for k in ("rules", "lid")}
truth = {}
for line in open(os.path.join(work, "lid.jsonl"), encoding="utf-8"):
    record = json.loads(line)
    truth[record["id"]] = record["lang"]
zh = lambda code: "zh" if code.startswith("zh") else code

print("| task | documents | ours (docs/s) | peer (docs/s) | speed-up | per-round range |")
print("|---|---:|---:|---:|---:|---|")
for task, peer_name in (("rules", "datatrove 0.10.1"), ("lid", "py3langid 0.4.0")):
    mine = [o[task]["documents"] / o[task]["seconds"] for o in ours]
    theirs = [p["docs_per_s"] for p in peers[task]]
    ratios = sorted(m / t for m, t in zip(mine, theirs))
    print(f"| {task} vs {peer_name} | {ours[0][task]['documents']} | {statistics.median(mine):,.0f} | "
          f"{statistics.median(theirs):,.0f} | {statistics.median(ratios):.1f}x | {ratios[0]:.1f}–{ratios[-1]:.1f}x |")
print()
kept_ours, kept_peer = set(ours[0]["rules"]["kept"]), set(peers["rules"][0]["kept"])
n = ours[0]["rules"]["documents"]
print(f"Rules: ours keep {len(kept_ours)}, datatrove keeps {len(kept_peer)} of {n}; both keep {len(kept_ours & kept_peer)}, "
      f"the decisions agree on {n - len(kept_ours ^ kept_peer)} ({(n - len(kept_ours ^ kept_peer)) / n:.1%}).")
answers_ours, answers_peer = ours[0]["lid"]["language"], peers["lid"][0]["language"]
exact = sum(answers_ours[i] == truth[i] for i in truth) / len(truth)
ours_zh = sum(zh(answers_ours[i]) == zh(truth[i]) for i in truth) / len(truth)
peer_zh = sum(zh(answers_peer[i]) == zh(truth[i]) for i in truth) / len(truth)
print(f"Language identification on {len(truth)} held-out paragraphs: ours {ours_zh:.1%} (Chinese as one), "
      f"{exact:.1%} telling simplified from traditional; py3langid {peer_zh:.1%}.")
print()
print("| stage (ours, JSONL in and out) | documents | 1 thread (docs/s) | 2 threads (docs/s) |")
print("|---|---:|---:|---:|")
stages = ours[0]["stages"]
for name in dict.fromkeys(s["stage"] for s in stages):
    row = {s["threads"]: s for s in stages if s["stage"] == name}
    print(f"| {name} | {row[1]['documents']} | {row[1]['documents'] / row[1]['seconds']:,.0f} | "
          f"{row[2]['documents'] / row[2]['seconds']:,.0f} |")
