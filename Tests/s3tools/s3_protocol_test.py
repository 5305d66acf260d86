#!/usr/bin/env python3
"""What the S3 and REST listeners do with bodies nobody invited, and with uploads nobody finished
(run by S3ProtocolLiveTests against a cluster whose s3_upload_expiry is a few seconds).

usage: s3_protocol_test.py S3_URL REST_URL ADMIN_PASSWORD

- `Expect: 100-continue` on the S3 port is answered with 100 only once the signature holds: an
  unsigned PUT gets its 403 at once, marked `Connection: close`, and the connection is closed
  although the client never sends the body.
- An answer sent before the body was read (REST with bad credentials, a huge Content-Length)
  closes the connection within seconds: the agent does not drain a body without end, and the
  client reads the answer and an orderly end (FIN) before the connection is reset.
- Pipelined requests are answered in order on one connection: an answer to a request whose body
  has ended is not an early one (no `Connection: close`), and a pipelined request's
  `100 Continue` comes after the answer before it, never inside it.
- A part number listed twice in CompleteMultipartUpload counts once, with its last entry.
- A multipart upload neither completed nor aborted is aborted once s3_upload_expiry passes.
Exits non-zero at the first failed check; every socket has a timeout, every loop a deadline.
"""
import base64
import json
import select
import socket
import sys
import time
import urllib.parse
import urllib.request

import boto3
import botocore
from botocore.config import Config

s3_url, rest_url, admin_password = sys.argv[1:4]


def check(condition, what):
    if not condition:
        print(f"FAILED: {what}", flush=True)
        sys.exit(1)
    print(f"ok: {what}", flush=True)


def rest(method, path, body=None):
    request = urllib.request.Request(rest_url + path, method=method, data=body)
    request.add_header("Authorization", "Basic " + base64.b64encode(f"admin:{admin_password}".encode()).decode())
    request.add_header("X-Requested-With", "s3-protocol-test")
    if body is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as answer:
        data = answer.read()
        return json.loads(data) if data else None


def connect(url):
    parts = urllib.parse.urlsplit(url)
    connection = socket.create_connection((parts.hostname, parts.port), timeout=10)
    return connection, f"{parts.hostname}:{parts.port}"


def read_head(connection):
    """The status line and headers of one answer (interim or final)."""
    data = b""
    while b"\r\n\r\n" not in data:
        piece = connection.recv(4096)
        if not piece:
            break
        data += piece
    head, _, rest_bytes = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {line.split(":", 1)[0].strip().lower(): line.split(":", 1)[1].strip() for line in lines[1:] if ":" in line}
    return lines[0], headers, rest_bytes


def closed_within(connection, seconds):
    """Whether the peer closes the connection within `seconds` (reading and dropping what comes)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        connection.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            if not connection.recv(65536):
                return True
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            return True
    return False


def read_answers(connection, count, seconds=15):
    """`count` answers read off one connection, interim ones included: (status, headers, body)."""
    deadline, data, answers = time.monotonic() + seconds, b"", []
    def more():
        connection.settimeout(max(0.1, deadline - time.monotonic()))
        piece = connection.recv(65536)
        if not piece:
            raise EOFError("the connection closed")
        return piece
    while len(answers) < count and time.monotonic() < deadline:
        while b"\r\n\r\n" not in data:
            data += more()
        head, _, data = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {line.split(":", 1)[0].strip().lower(): line.split(":", 1)[1].strip() for line in lines[1:] if ":" in line}
        status = int(lines[0].split(" ")[1])
        body = b""
        if status >= 200 and "chunked" in headers.get("transfer-encoding", ""):
            while True:
                while b"\r\n" not in data:
                    data += more()
                size_line, _, data = data.partition(b"\r\n")
                size = int(size_line.split(b";")[0], 16)
                while len(data) < size + 2:
                    data += more()
                body, data = body + data[:size], data[size + 2:]
                if size == 0:
                    break
        elif status >= 200:
            length = int(headers.get("content-length", "0"))
            while len(data) < length:
                data += more()
            body, data = data[:length], data[length:]
        answers.append((status, headers, body))
    return answers


rest("POST", "/api/v1/users", json.dumps({"name": "proto", "password": "proto-password", "role": "user"}).encode())
request = urllib.request.Request(rest_url + "/api/v1/users/proto/keys", method="POST", data=b"")
request.add_header("Authorization", "Basic " + base64.b64encode(b"proto:proto-password").decode())
request.add_header("X-Requested-With", "s3-protocol-test")
key = json.load(urllib.request.urlopen(request, timeout=30))
s3 = boto3.client(
    "s3", endpoint_url=s3_url, aws_access_key_id=key["access_key_id"], aws_secret_access_key=key["secret_access_key"],
    region_name="us-east-1", config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
)
s3.create_bucket(Bucket="proto")

# 1. No invitation without a signature.
connection, host = connect(s3_url)
connection.sendall(f"PUT /proto/uninvited HTTP/1.1\r\nHost: {host}\r\nContent-Length: 10485760\r\nExpect: 100-continue\r\n\r\n".encode())
status, headers, _ = read_head(connection)
check(status.split(" ")[1] == "403", f"an unsigned PUT with Expect: 100-continue gets 403 at once, not 100 ({status})")
check(headers.get("connection", "").lower() == "close", "that answer says Connection: close")
check(closed_within(connection, 5), "and the connection closes though the body never comes")
connection.close()

# 2. A signed one is invited, and its body taken.
body = b"invited body " * 1000
url = s3.generate_presigned_url("put_object", Params={"Bucket": "proto", "Key": "invited"}, ExpiresIn=300)
target = urllib.parse.urlsplit(url)
connection, host = connect(s3_url)
connection.sendall(f"PUT {target.path}?{target.query} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n".encode())
status, _, answer = read_head(connection)
check(status.split(" ")[1] == "100", f"a presigned PUT with Expect: 100-continue is invited ({status} {answer[:300]!r})")
connection.sendall(body)
status, _, _ = read_head(connection)
check(status.split(" ")[1] == "200", f"and stored ({status})")
connection.close()
check(s3.get_object(Bucket="proto", Key="invited")["Body"].read() == body, "the invited body reads back")
s3.delete_object(Bucket="proto", Key="invited")

# 3. A body nobody will read is not drained for ever (REST: refused credentials, 100 GiB announced).
connection, host = connect(rest_url)
bad = base64.b64encode(b"admin:not-the-password").decode()
connection.sendall(f"PUT /api/v1/files/endless HTTP/1.1\r\nHost: {host}\r\nAuthorization: Basic {bad}\r\nContent-Length: {100 << 30}\r\n\r\n".encode())
connection.setblocking(False)
started, sent, closed, received, ended = time.monotonic(), 0, False, b"", False
block = b"\0" * 65536
while time.monotonic() - started < 20 and not closed:
    readable, writable, _ = select.select([] if ended else [connection], [connection], [], 1)
    try:
        if readable:
            piece = connection.recv(65536)
            ended = not piece
            received += piece
        if writable:
            sent += connection.send(block)
    except BlockingIOError:
        continue
    except (BrokenPipeError, ConnectionResetError):
        closed = True
elapsed = time.monotonic() - started
connection.close()
check(closed and elapsed < 10, f"a refused upload's connection is closed after {elapsed:.1f} s and {sent >> 20} MiB sent, not drained for 100 GiB")
check(received.startswith(b"HTTP/1.1 401"), f"the client read its answer first ({received[:40]!r})")
check(ended, "and an orderly end of the answers (FIN) before the connection was reset")

# 3b. Pipelined requests are answered in order, none taken for an early answer.
connection, host = connect(rest_url)
auth = "Basic " + base64.b64encode(f"admin:{admin_password}".encode()).decode()
get = f"GET /api/v1/health HTTP/1.1\r\nHost: {host}\r\nAuthorization: {auth}\r\n\r\n"
connection.sendall((get * 3).encode())
answers = read_answers(connection, 3)
check([a[0] for a in answers] == [200, 200, 200], f"three pipelined GETs get three answers ({[a[0] for a in answers]})")
check(all(a[1].get("connection", "").lower() != "close" for a in answers), "none of them closes the connection")
payload = b"pipelined body"
put = f"PUT /api/v1/files/pipelined.txt HTTP/1.1\r\nHost: {host}\r\nAuthorization: {auth}\r\nX-Requested-With: s3-protocol-test\r\nContent-Length: {len(payload)}\r\nExpect: 100-continue\r\n\r\n"
connection.sendall(get.encode() + put.encode() + payload)
answers = read_answers(connection, 3)
check([a[0] for a in answers] == [200, 100, 201], f"a pipelined PUT's 100 Continue follows the answer before it ({[a[0] for a in answers]})")
connection.close()
rest("DELETE", "/api/v1/files/pipelined.txt")

# 4. A part number listed twice counts once, with its last entry.
upload = s3.create_multipart_upload(Bucket="proto", Key="twice")["UploadId"]
first = s3.upload_part(Bucket="proto", Key="twice", UploadId=upload, PartNumber=1, Body=b"A" * 100)["ETag"]
second = s3.upload_part(Bucket="proto", Key="twice", UploadId=upload, PartNumber=1, Body=b"B" * 100)["ETag"]
s3.complete_multipart_upload(Bucket="proto", Key="twice", UploadId=upload, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": first}, {"PartNumber": 1, "ETag": second}]})
check(s3.get_object(Bucket="proto", Key="twice")["Body"].read() == b"B" * 100, "a part listed twice is taken once, as its last upload")
s3.delete_object(Bucket="proto", Key="twice")

# 5. An abandoned upload expires (s3_upload_expiry is a few seconds here).
upload = s3.create_multipart_upload(Bucket="proto", Key="abandoned")["UploadId"]
s3.upload_part(Bucket="proto", Key="abandoned", UploadId=upload, PartNumber=1, Body=b"x" * (6 << 20))
check([u["UploadId"] for u in s3.list_multipart_uploads(Bucket="proto").get("Uploads", [])] == [upload], "the abandoned upload is listed at first")
deadline = time.monotonic() + 60
while time.monotonic() < deadline and s3.list_multipart_uploads(Bucket="proto").get("Uploads"):
    time.sleep(0.5)
check(not s3.list_multipart_uploads(Bucket="proto").get("Uploads"), "the abandoned upload expired")
try:
    s3.list_parts(Bucket="proto", Key="abandoned", UploadId=upload)
    check(False, "an expired upload still lists parts")
except botocore.exceptions.ClientError as error:
    check(error.response["Error"]["Code"] == "NoSuchUpload", f"an expired upload is NoSuchUpload ({error.response['Error']['Code']})")
print("all S3 protocol checks passed", flush=True)
