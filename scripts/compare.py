#!/usr/bin/env python3
"""filestore against nginx, and its S3 port against REST, in one run, with neutral clients.

usage: compare.py FILESTORE_BINARY [--doors nginx rest s3] [--files large small] [--size-mib 512]
                  [--rounds 3] [--seconds 10] [--connections 16] [--nginx /usr/sbin/nginx]

`scripts/bench compare` runs it with every door; `scripts/bench s3rest` with `--doors rest s3`.
Starts `filestore dev` (3 nodes, directory storage, replication 2) and nginx (WebDAV PUT,
`sendfile on`) on loopback in a temporary directory, then, round by round, with the doors in a
different order every round:
- a large file: `curl -T` through node1 and `curl -o /dev/null` from node2 (nginx: its one
  server); REST with a bearer token, S3 through a SigV4 presigned URL (UNSIGNED-PAYLOAD), so the
  client hashes nothing. Each download runs twice: "cold" after `sync` and dropping the page
  cache (/proc/sys/vm/drop_caches, when this user may write it), then "hot" straight after;
- 4 KiB files: `wrk` with a Lua script, unique bodies PUT to unique keys, then GETs of the keys
  the PUT round wrote, over `--connections` connections through node1 (hot cache); S3 requests
  are presigned URLs made before the round (botocore), so wrk does no signing and the agent
  checks a signature per request.
Prints one line per figure and round, then per figure each door's median [range] and its
ratio to nginx (and S3 to REST).
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

parser = argparse.ArgumentParser()
parser.add_argument("binary")
parser.add_argument("--doors", nargs="+", choices=["nginx", "rest", "s3"], default=["nginx", "rest", "s3"])
parser.add_argument("--size-mib", type=int, default=512)
parser.add_argument("--rounds", type=int, default=3)
parser.add_argument("--seconds", type=int, default=10)
parser.add_argument("--connections", type=int, default=16)
parser.add_argument("--nginx", default="/usr/sbin/nginx")
parser.add_argument("--files", nargs="+", choices=["large", "small"], default=["large", "small"], help="which figures to measure")
args = parser.parse_args()
for tool in ("curl", "wrk"):
    if not shutil.which(tool):
        sys.exit(f"compare: {tool} is needed (apt-get install {tool})")
if "nginx" in args.doors and not os.access(args.nginx, os.X_OK):
    sys.exit(f"compare: nginx not found at {args.nginx} (apt-get install nginx-core)")
if "s3" in args.doors:
    import botocore.session
    from botocore.config import Config

work = tempfile.mkdtemp(prefix="filestore-compare-")
http_port, s3_port, gossip_port, nginx_port = 18480, 13980, 17980, 18580
processes = []


def start(command, log):
    process = subprocess.Popen(command, stdout=open(f"{work}/{log}", "w"), stderr=subprocess.STDOUT, start_new_session=True)
    processes.append(process)
    return process


def stop():
    for process in processes:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        except Exception:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except Exception:
                pass
    shutil.rmtree(work, ignore_errors=True)


def fail(message):
    logs = "".join(open(f"{work}/{name}").read()[-3000:] for name in ("dev.log", "nginx-error.log") if os.path.exists(f"{work}/{name}"))
    sys.exit(f"compare: {message}\n{logs}")


def drop_caches():
    """Empties the page cache so the next read comes from the disk; False when not allowed."""
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as control:
            control.write("3\n")
        return True
    except OSError:
        return False


try:
    start([args.binary, "dev", "--dir", f"{work}/cluster", "--port", str(http_port), "--s3-port", str(s3_port), "--gossip-port", str(gossip_port), "--log-level", "warning"], "dev.log")
    if "nginx" in args.doors:
        os.makedirs(f"{work}/nginx/dav")
        user = "user root;" if os.getuid() == 0 else ""
        with open(f"{work}/nginx.conf", "w") as conf:
            conf.write(f"""{user}
daemon off; worker_processes 2; error_log {work}/nginx-error.log; pid {work}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
    access_log off; sendfile on;
    client_body_temp_path {work}/nginx/body; proxy_temp_path {work}/nginx/proxy; fastcgi_temp_path {work}/nginx/fastcgi;
    uwsgi_temp_path {work}/nginx/uwsgi; scgi_temp_path {work}/nginx/scgi;
    server {{
        listen 127.0.0.1:{nginx_port};
        location /dav/ {{ root {work}/nginx; dav_methods PUT; create_full_put_path on; client_max_body_size 0; }}
    }}
}}
""")
        start([args.nginx, "-c", f"{work}/nginx.conf", "-p", f"{work}/nginx"], "nginx.log")

    deadline = time.monotonic() + 120
    while not os.path.exists(f"{work}/cluster/cluster.json") and time.monotonic() < deadline:
        time.sleep(0.2)
    if not os.path.exists(f"{work}/cluster/cluster.json"):
        fail("the cluster did not start")
    cluster = json.load(open(f"{work}/cluster/cluster.json"))
    password = cluster["admin"]["password"]
    rest = [f"http://127.0.0.1:{http_port + index}" for index in range(3)]
    s3_urls = [f"http://127.0.0.1:{s3_port + index}" for index in range(3)]
    nginx = f"http://127.0.0.1:{nginx_port}"

    def call(method, url, body=None, authorization=None):
        request = urllib.request.Request(url, method=method, data=body)
        request.add_header("Authorization", authorization or "Basic " + base64.b64encode(f"admin:{password}".encode()).decode())
        request.add_header("X-Requested-With", "compare")
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
    if "s3" in args.doors:
        key = call("POST", rest[0] + "/api/v1/users/bench/keys", b"", user)
        # One client per node: the host is signed, so a URL for one node does not work on another.
        clients = [botocore.session.get_session().create_client(
            "s3", endpoint_url=url, aws_access_key_id=key["access_key_id"], aws_secret_access_key=key["secret_access_key"],
            region_name="us-east-1", config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        ) for url in s3_urls]
        clients[0].create_bucket(Bucket="bench")
    if "nginx" in args.doors:
        deadline = time.monotonic() + 10
        while subprocess.run(["curl", "-s", "-o", "/dev/null", nginx + "/"]).returncode != 0:
            if time.monotonic() > deadline:
                fail("nginx did not start")
            time.sleep(0.1)

    def presign(method, key_name, node=0):
        return clients[node].generate_presigned_url(method, Params={"Bucket": "bench", "Key": key_name}, ExpiresIn=3600)

    def url(door, name, node=0, method="GET"):
        """The URL and curl arguments for one file through a door."""
        if door == "nginx":
            return [f"{nginx}/dav/{name}"]
        if door == "rest":
            return ["-H", f"Authorization: {token}", f"{rest[node]}/api/v1/files/{name}"]
        return [presign("put_object" if method == "PUT" else "get_object", name, node=node)]

    big = f"{work}/big.bin"
    with open(big, "wb") as output:
        for _ in range(args.size_mib if "large" in args.files else 0):
            output.write(os.urandom(1 << 20))

    def curl(arguments):
        run = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{speed_upload} %{speed_download}"] + arguments, capture_output=True, text=True)
        status, up, down = run.stdout.split()
        if run.returncode != 0 or not status.startswith("2"):
            fail(f"curl {' '.join(arguments[-1:])} answered {status}: {run.stderr}")
        return max(float(up), float(down)) / (1 << 20)

    figures = {}

    def record(figure, door, value):
        figures.setdefault(figure, {}).setdefault(door, []).append(value)
        print(f"{figure} {door}: {value:.1f}", flush=True)

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
            fail(f"wrk failed:\n{run.stdout}\n{run.stderr}")
        out = run.stdout
        rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        if errors:
            fail(f"wrk got {errors.group(1)} error answers:\n{out}\n{run.stderr}")
        return rate

    cold = drop_caches()
    if not cold:
        print("(this user may not drop the page cache: the cold downloads are not cold)", flush=True)
    # Unique keys for a door at up to 5,000 requests/s (past that, wrk goes round the list again:
    # new versions of the same keys). Presigning them takes botocore a few seconds.
    small_count = 5_000 * args.seconds
    for round_number in range(args.rounds):
        doors = args.doors[round_number % len(args.doors):] + args.doors[:round_number % len(args.doors)]
        name = f"big-{round_number}"
        for door in (doors if "large" in args.files else []):
            curl_arguments = url(door, name, method="PUT")
            os.sync()
            record("large upload MiB/s", door, curl(["-T", big] + curl_arguments))
        for door in (doors if "large" in args.files else []):
            drop_caches()
            record("large download cold MiB/s", door, curl(url(door, name, node=1)))
            record("large download hot MiB/s", door, curl(url(door, name, node=1)))
        prefix = f"small-{round_number}"
        paths = {
            "nginx": lambda: [f"/dav/{prefix}/{index}" for index in range(small_count)],
            "rest": lambda: [f"/api/v1/files/{prefix}/{index}" for index in range(small_count)],
            "s3": lambda: [presign("put_object", f"{prefix}/{index}").split(s3_urls[0], 1)[1] for index in range(small_count)],
        }
        bases = {"nginx": nginx, "rest": rest[0], "s3": s3_urls[0]}
        if "small" not in args.files:
            continue
        for door in doors:
            record("4 KiB uploads /s", door, wrk("PUT", paths[door](), token if door == "rest" else None, bases[door]))
        for door in doors:
            # GETs only of keys the PUT round wrote. Each wrk thread takes every other key, so the
            # written keys are a prefix only up to what the slower thread reached: half of the
            # total, with margin. Key 0 is never written: wrk builds one request per thread to
            # check the script and drops it, which is thread 0's first key.
            written = min(small_count, int(figures["4 KiB uploads /s"][door][-1] * args.seconds * 0.8))
            if door == "s3":
                gets = [presign("get_object", f"{prefix}/{index}").split(s3_urls[0], 1)[1] for index in range(1, written)]
            else:
                gets = paths[door]()[1:written]
            record("4 KiB downloads /s", door, wrk("GET", gets, token if door == "rest" else None, bases[door]))

    def median(values):
        values = sorted(values)
        middle = len(values) // 2
        return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2

    print(f"\nsummary: median [min-max] of {args.rounds} round(s); ratios of the medians")
    for figure, by_door in figures.items():
        parts = []
        for door in args.doors:
            values = by_door[door]
            ratio = f" ({median(values) / median(by_door['nginx']):.2f}x nginx)" if door != "nginx" and "nginx" in by_door else ""
            parts.append(f"{door} {median(values):.1f} [{min(values):.1f}-{max(values):.1f}]{ratio}")
        if "rest" in by_door and "s3" in by_door:
            parts.append(f"S3/REST {median(by_door['s3']) / median(by_door['rest']):.2f}")
        print(f"{figure}: " + ", ".join(parts))
finally:
    stop()
