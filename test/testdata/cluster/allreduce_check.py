# A gloo all-reduce across every rank torchrun starts; one JSON line per rank, exit 3 on a wrong sum.
# Written for Podkit's cluster e2e test (after shared/design/netns-test-cluster.md §8.1).
import json, os, socket, sys, time
from datetime import timedelta

import torch
import torch.distributed as dist

t0 = time.time()
dist.init_process_group("gloo", timeout=timedelta(seconds=int(os.environ.get("DIST_TIMEOUT_S", "60"))))
init_s = time.time() - t0
rank, ws = dist.get_rank(), dist.get_world_size()
small = torch.tensor([rank + 1.0])
dist.all_reduce(small)
dist.barrier()
n = int(os.environ.get("ALLREDUCE_ELEMENTS", str(1 << 20)))
big = torch.full((n,), float(rank))
t1 = time.time()
dist.all_reduce(big)
big_s = time.time() - t1
expected_small = ws * (ws + 1) / 2
expected_big = ws * (ws - 1) / 2
ok = small.item() == expected_small and bool((big == expected_big).all())
print(json.dumps({
    "rank": rank, "world_size": ws, "local_rank": int(os.environ["LOCAL_RANK"]),
    "group_rank": int(os.environ["GROUP_RANK"]), "hostname": socket.gethostname(),
    "master": "%s:%s" % (os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"]),
    "gloo_ifname": os.environ.get("GLOO_SOCKET_IFNAME"), "node_rank_env": os.environ.get("NODE_RANK"),
    "allreduce": small.item(), "expected": expected_small, "big_allreduce_MB": round(n * 4 / 1e6, 1),
    "big_allreduce_s": round(big_s, 4), "init_s": round(init_s, 3), "ok": ok,
}), flush=True)
dist.barrier()
dist.destroy_process_group()
sys.exit(0 if ok else 3)
