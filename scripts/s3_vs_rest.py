#!/usr/bin/env python3
"""S3 against REST on the same cluster, in one run, with neutral clients (scripts/bench s3rest).

usage: s3_vs_rest.py FILESTORE_BINARY [--size-mib 512] [--rounds 3] [--seconds 10] [--connections 16]

Starts `filestore dev` (3 nodes, directory storage, replication 2) in a temporary directory,
then alternates the two doors round by round:
- a large file: `curl -T` through node1 and `curl -o /dev/null` from node2; REST with a bearer
  token, S3 through a SigV4 presigned URL (UNSIGNED-PAYLOAD), so the client hashes nothing;
- 4 KiB files: `wrk` with a Lua script, unique bodies PUT to unique keys, then GETs of them,
  over `--connections` connections through node1; S3 requests are presigned URLs made before
  the round (botocore), so wrk does no signing and the agent checks a signature per request.
Prints one line per figure and round, then the ranges and the S3/REST ratios.
"""
import argparse
import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import botocore.session
from botocore.config import Config

parser = argparse.ArgumentParser()
parser.add_argument("binary")
parser.add_argument("--size-mib", type=int, default=512)
parser.add_argument("--rounds", type=int, default=3)
parser.add_argument("--seconds", type=int, default=10)
parser.add_argument("--connections", type=int, default=16)
args = parser.parse_args()
for tool in ("curl", "wrk"):
    if not shutil.which(tool):
        sys.exit(f"s3_vs_rest: {tool} is needed (apt-get install {tool})")

work = tempfile.mkdtemp(prefix="filestore-s3-vs-rest-")
http_port, s3_port, gossip_port = 18480, 13980, 17980
dev = subprocess.Popen(
    [args.binary, "dev", "--dir", f"{work}/cluster", "--port", str(http_port), "--s3-port", str(s3_port), "--gossip-port", str(gossip_port), "--log-level", "warning"],
    stdout=open(f"{work}/dev.log", "w"), stderr=subprocess.STDOUT, start_new_session=True,
)


def stop():
    try:
        os.killpg(dev.pid, signal.SIGTERM)
        dev.wait(timeout=30)
    except Exception:
        os.killpg(dev.pid, signal.SIGKILL)
    shutil.rmtree(work, ignore_errors=True)


try:
    deadline = time.monotonic() + 120
    while not os.path.exists(f"{work}/cluster/cluster.json") and time.monotonic() < deadline:
        time.sleep(0.2)
    cluster = json.load(open(f"{work}/cluster/cluster.json"))
    password = cluster["admin"]["password"]
    rest = [f"http://127.0.0.1:{http_port + index}" for index in range(3)]
    s3_urls = [f"http://127.0.0.1:{s3_port + index}" for index in range(3)]

    def call(method, url, body=None, authorization=None):
        request = urllib.request.Request(url, method=method, data=body)
        request.add_header("Authorization", authorization or "Basic " + base64.b64encode(f"admin:{password}".encode()).decode())
        request.add_header("X-Requested-With", "s3-vs-rest")
        if body is not None:
            request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=60) as answer:
            data = answer.read()
            return json.loads(data) if data else None

    while time.monotonic() < deadline:
        try:
            if sum(node["status"] == "alive" for node in call("GET", rest[0] + "/api/v1/cluster")["nodes"]) == 3:
                break
        except Exception:
            pass
        time.sleep(0.3)
    call("POST", rest[0] + "/api/v1/users", json.dumps({"name": "bench", "password": "bench-password", "role": "user"}).encode())
    user = "Basic " + base64.b64encode(b"bench:bench-password").decode()
    token = "Bearer " + call("POST", rest[0] + "/api/v1/auth/tokens", b"", user)["token"]
    key = call("POST", rest[0] + "/api/v1/users/bench/keys", b"", user)
    # One client per node: the host is signed, so a URL for one node does not work on another.
    clients = [botocore.session.get_session().create_client(
        "s3", endpoint_url=url, aws_access_key_id=key["access_key_id"], aws_secret_access_key=key["secret_access_key"],
        region_name="us-east-1", config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    ) for url in s3_urls]
    clients[0].create_bucket(Bucket="bench")

    def presign(method, key_name, node=0):
        return clients[node].generate_presigned_url(method, Params={"Bucket": "bench", "Key": key_name}, ExpiresIn=3600)

    big = f"{work}/big.bin"
    with open(big, "wb") as output:
        for _ in range(args.size_mib):
            output.write(os.urandom(1 << 20))

    def curl(arguments):
        run = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{speed_upload} %{speed_download}"] + arguments, capture_output=True, text=True)
        status, up, down = run.stdout.split()
        if run.returncode != 0 or not status.startswith("2"):
            sys.exit(f"s3_vs_rest: curl {' '.join(arguments[-1:])} answered {status}: {run.stderr}\n" + open(f"{work}/dev.log").read()[-3000:])
        return max(float(up), float(down)) / (1 << 20)

    figures = {}

    def record(name, value):
        figures.setdefault(name, []).append(value)
        print(f"{name}: {value:.1f}", flush=True)

    lua = f"{work}/small.lua"
    with open(lua, "w") as script:
        script.write("""
local paths, method, auth = {}, "PUT", nil
local counter, threads, index = 0, 0, 0
function setup(thread) thread:set("id", counter); counter = counter + 1 end
function init(arguments)
  method = arguments[1]; auth = arguments[3]
  for line in io.lines(arguments[2]) do paths[#paths + 1] = line end
  index = id
  threads = tonumber(arguments[4])
end
function request()
  local path = paths[(index % #paths) + 1]
  index = index + threads
  local headers = {}
  if auth ~= "-" then headers["Authorization"] = auth end
  if method == "PUT" then
    local text = tostring(index)
    local body = text .. string.rep(".", 4096 - #text)
    headers["Content-Type"] = "application/octet-stream"
    return wrk.format("PUT", path, headers, body)
  end
  return wrk.format("GET", path, headers)
end
local failures = 0
function response(status, headers, body)
  if status >= 300 and failures < 5 then
    failures = failures + 1
    io.stderr:write(string.format("answer %d: %s\\n", status, string.sub(body or "", 1, 300)))
  end
end
""")

    def wrk(method, paths, authorization, base):
        listing = f"{work}/paths.txt"
        with open(listing, "w") as output:
            output.write("\n".join(paths) + "\n")
        threads = 2
        run = subprocess.run(
            ["wrk", "-t", str(threads), "-c", str(args.connections), "-d", f"{args.seconds}s", "-s", lua, base, "--", method, listing, authorization or "-", str(threads)],
            capture_output=True, text=True,
        )
        if run.returncode != 0:
            sys.exit(f"s3_vs_rest: wrk failed:\n{run.stdout}\n{run.stderr}")
        out = run.stdout
        rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        if errors:
            sys.exit(f"s3_vs_rest: wrk got {errors.group(1)} error answers:\n{out}\n{run.stderr}")
        return rate

    # Unique keys for a door at up to 2,500 requests/s (past that, wrk goes round the list again:
    # new versions of the same keys). Presigning them takes botocore a few seconds.
    small_count = 2_500 * args.seconds
    for round_number in range(args.rounds):
        doors = ["rest", "s3"] if round_number % 2 == 0 else ["s3", "rest"]
        for door in doors:
            if door == "rest":
                record("large upload REST MiB/s", curl(["-T", big, "-H", f"Authorization: {token}", f"{rest[0]}/api/v1/files/big-{round_number}"]))
            else:
                record("large upload S3 MiB/s", curl(["-T", big, presign("put_object", f"big-{round_number}")]))
        for door in doors:
            if door == "rest":
                record("large download REST MiB/s", curl(["-H", f"Authorization: {token}", f"{rest[1]}/api/v1/files/big-{round_number}"]))
            else:
                record("large download S3 MiB/s", curl([presign("get_object", f"big-{round_number}", node=1)]))
        rest_paths = [f"/api/v1/files/small-{round_number}/{index}" for index in range(small_count)]
        s3_paths = [presign("put_object", f"small-{round_number}/{index}").split(s3_urls[0], 1)[1] for index in range(small_count)]
        for door in doors:
            if door == "rest":
                record("4 KiB uploads REST /s", wrk("PUT", rest_paths, token, rest[0]))
            else:
                record("4 KiB uploads S3 /s", wrk("PUT", s3_paths, None, s3_urls[0]))
        # GETs only of keys the PUT round wrote: the first N of each list, N what the slower door reached.
        # (Each wrk thread takes every other key, so the written keys are a prefix only up to
        # what the slower thread reached: half of the total, with margin.)
        written = int(min(figures["4 KiB uploads REST /s"][-1], figures["4 KiB uploads S3 /s"][-1]) * args.seconds * 0.8)
        # Key 0 is never written: wrk builds one request per thread to check the script and drops
        # it, which is thread 0's first key.
        s3_gets = [presign("get_object", f"small-{round_number}/{index}").split(s3_urls[0], 1)[1] for index in range(1, written)]
        for door in doors:
            if door == "rest":
                record("4 KiB downloads REST /s", wrk("GET", rest_paths[1:written], token, rest[0]))
            else:
                record("4 KiB downloads S3 /s", wrk("GET", s3_gets, None, s3_urls[0]))

    print("\nsummary (min-max over rounds; S3/REST of the medians)")
    for figure in ("large upload", "large download", "4 KiB uploads", "4 KiB downloads"):
        unit = "MiB/s" if figure.startswith("large") else "/s"
        rest_values = sorted(figures[f"{figure} REST {unit}"])
        s3_values = sorted(figures[f"{figure} S3 {unit}"])
        median = lambda values: values[len(values) // 2]
        print(f"{figure}: REST {rest_values[0]:.1f}-{rest_values[-1]:.1f}, S3 {s3_values[0]:.1f}-{s3_values[-1]:.1f} {unit}, S3/REST {median(s3_values) / median(rest_values):.2f}")
finally:
    stop()
