#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Writes kube-scheduler extender v1 request bodies for the extender benchmark:
# NodeNames-only bodies and bodies with full, realistic Node objects (~4 KB each).
"""usage: gen-nodes.py OUTDIR [--prefix node-] [--names 100,1000,5000] [--nodes 1000,5000]

Writes OUTDIR/names-N.json and OUTDIR/nodes-N.json; node names are PREFIX0..PREFIX(N-1),
matching nodescore-pub --prefix."""
import argparse
import json
import os
import random
import sys

POD = {
    "metadata": {
        "name": "web-7d9c6b5f4-x2k8p",
        "namespace": "shop",
        "uid": "4f0c2a8e-3d1b-4b7a-9f65-2c1e8d7b9a10",
        "labels": {"app": "web", "pod-template-hash": "7d9c6b5f4", "nodescore.io/class": "default"},
    },
    "spec": {
        "containers": [{
            "name": "web",
            "image": "registry.example.com/shop/web:1.42.0",
            "resources": {"requests": {"cpu": "500m", "memory": "512Mi"},
                          "limits": {"cpu": "2", "memory": "1Gi"}},
        }],
        "schedulerName": "default-scheduler",
    },
}

IMAGES = [
    ("registry.k8s.io/kube-proxy", "v1.29.3", 28_500_000),
    ("docker.io/calico/node", "v3.27.2", 116_200_000),
    ("docker.io/calico/cni", "v3.27.2", 94_100_000),
    ("registry.k8s.io/pause", "3.9", 322_000),
    ("quay.io/prometheus/node-exporter", "v1.7.0", 11_700_000),
    ("registry.example.com/nodescore/agent", "0.3.1", 9_800_000),
    ("registry.example.com/shop/web", "1.42.0", 88_400_000),
    ("registry.example.com/shop/cart", "2.7.5", 64_300_000),
    ("docker.io/library/redis", "7.2.4", 45_600_000),
]


def hexid(rng, n):
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def node(i, prefix, rng):
    name = f"{prefix}{i}"
    zone = "eu-west-1" + "abc"[i % 3]
    ip = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
    instance = "i-0" + hexid(rng, 16)
    ts = "2026-11-23T09:%02d:%02dZ" % (rng.randrange(60), rng.randrange(60))
    cond = lambda t, s, r, m: {"type": t, "status": s, "lastHeartbeatTime": ts,
                               "lastTransitionTime": "2026-11-01T06:12:44Z", "reason": r, "message": m}
    return {
        "kind": "Node",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "uid": f"{hexid(rng, 8)}-{hexid(rng, 4)}-{hexid(rng, 4)}-{hexid(rng, 4)}-{hexid(rng, 12)}",
            "resourceVersion": str(rng.randrange(10**6, 10**8)),
            "creationTimestamp": "2026-11-01T06:10:02Z",
            "labels": {
                "beta.kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/instance-type": "m5.4xlarge",
                "beta.kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "node.kubernetes.io/instance-type": "m5.4xlarge",
                "node-role.kubernetes.io/worker": "",
                "topology.kubernetes.io/region": "eu-west-1",
                "topology.kubernetes.io/zone": zone,
                "nodescore.io/pool": "general",
            },
            "annotations": {
                "alpha.kubernetes.io/provided-node-ip": ip,
                "csi.volume.kubernetes.io/nodeid": json.dumps({"ebs.csi.aws.com": instance}),
                "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///run/containerd/containerd.sock",
                "node.alpha.kubernetes.io/ttl": "0",
                "projectcalico.org/IPv4Address": ip + "/16",
                "projectcalico.org/IPv4VXLANTunnelAddr": f"192.168.{i % 250}.{1 + i % 200}",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
        },
        "spec": {
            "podCIDR": f"10.244.{i % 250}.0/24",
            "podCIDRs": [f"10.244.{i % 250}.0/24"],
            "providerID": f"aws:///{zone}/{instance}",
        },
        "status": {
            "capacity": {"cpu": "16", "ephemeral-storage": "104845292Ki", "hugepages-1Gi": "0",
                         "hugepages-2Mi": "0", "memory": "65049960Ki", "pods": "110"},
            "allocatable": {"cpu": "15890m", "ephemeral-storage": "96625420948", "hugepages-1Gi": "0",
                            "hugepages-2Mi": "0", "memory": "63850856Ki", "pods": "110"},
            "conditions": [
                cond("MemoryPressure", "False", "KubeletHasSufficientMemory",
                     "kubelet has sufficient memory available"),
                cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                cond("Ready", "True", "KubeletReady", "kubelet is posting ready status. AppArmor enabled"),
            ],
            "addresses": [
                {"type": "InternalIP", "address": ip},
                {"type": "Hostname", "address": name},
                {"type": "InternalDNS", "address": f"ip-{ip.replace('.', '-')}.eu-west-1.compute.internal"},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": hexid(rng, 32), "systemUUID": f"ec2{hexid(rng, 5)}-{hexid(rng, 4)}-{hexid(rng, 4)}-{hexid(rng, 4)}-{hexid(rng, 12)}",
                "bootID": f"{hexid(rng, 8)}-{hexid(rng, 4)}-{hexid(rng, 4)}-{hexid(rng, 4)}-{hexid(rng, 12)}",
                "kernelVersion": "6.1.0-18-cloud-amd64", "osImage": "Debian GNU/Linux 12 (bookworm)",
                "containerRuntimeVersion": "containerd://1.7.13", "kubeletVersion": "v1.29.3",
                "kubeProxyVersion": "v1.29.3", "operatingSystem": "linux", "architecture": "amd64",
            },
            "images": [{"names": [f"{repo}@sha256:{hexid(rng, 64)}", f"{repo}:{tag}"],
                        "sizeBytes": size + rng.randrange(1000)} for repo, tag, size in IMAGES],
        },
    }


def write(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, separators=(",", ":"))
    os.replace(tmp, path)


def counts(s):
    try:
        v = [int(x) for x in s.split(",") if x]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of counts: {s}")
    if any(n < 1 or n > 100000 for n in v):
        raise argparse.ArgumentTypeError("counts must be 1..100000")
    return v


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir")
    ap.add_argument("--prefix", default="node-")
    ap.add_argument("--names", type=counts, default=[100, 1000, 5000])
    ap.add_argument("--nodes", type=counts, default=[1000, 5000])
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if not os.path.isdir(a.outdir):
        print(f"ERROR gen-nodes: not a directory: {a.outdir}", file=sys.stderr)
        return 2
    rng = random.Random(a.seed)
    for n in a.names:
        write(os.path.join(a.outdir, f"names-{n}.json"),
              {"Pod": POD, "Nodes": None, "NodeNames": [f"{a.prefix}{i}" for i in range(n)]})
    if a.nodes:
        items = [node(i, a.prefix, rng) for i in range(max(a.nodes))]
        for n in a.nodes:
            write(os.path.join(a.outdir, f"nodes-{n}.json"),
                  {"Pod": POD, "Nodes": {"metadata": {}, "items": items[:n]}, "NodeNames": None})
    return 0


if __name__ == "__main__":
    sys.exit(main())
