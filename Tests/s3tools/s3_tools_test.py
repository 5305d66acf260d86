#!/usr/bin/env python3
"""Real S3 clients against a live cluster's S3 listeners (run by S3ToolsLiveTests).

usage: s3_tools_test.py S3_URL_NODE1 S3_URL_NODE2 REST_URLS ADMIN_PASSWORD WORK_DIR

REST_URLS: every node's REST URL, comma-separated (the first one is used for the API).

Makes a user and an access key through the REST API, then uses boto3 (with its default
checksums), the aws cli, rclone, restic and s3cmd as their users do. Exits non-zero at the first failed check.
"""
import base64
import hashlib
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

import boto3
import botocore
from botocore.config import Config

s3_url, s3_url2, rest_urls, admin_password, work = sys.argv[1:6]
rest_urls = rest_urls.split(",")
rest_url = rest_urls[0]
os.makedirs(work, exist_ok=True)


def check(condition, what):
    if not condition:
        print(f"FAILED: {what}", flush=True)
        sys.exit(1)
    print(f"ok: {what}", flush=True)


def rest(method, path, body=None, user="admin", password=None, raw=False):
    request = urllib.request.Request(rest_url + path, method=method, data=body)
    token = base64.b64encode(f"{user}:{password or admin_password}".encode()).decode()
    request.add_header("Authorization", "Basic " + token)
    request.add_header("X-Requested-With", "s3-tools-test")
    if body is not None and not raw:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=60) as answer:
        data = answer.read()
        return data if raw else (json.loads(data) if data else None)


def expect_error(code, call):
    try:
        call()
    except botocore.exceptions.ClientError as error:
        got = error.response["Error"]["Code"]
        check(got == code, f"{code} (got {got})")
        return
    check(False, f"{code} expected, the call succeeded")


# A user of its own, and two access keys for it.
rest("POST", "/api/v1/users", json.dumps({"name": "s3user", "password": "s3user-password", "role": "user"}).encode())
key = rest("POST", "/api/v1/users/s3user/keys", b"")
check(key["access_key_id"].startswith("FS") and len(key["secret_access_key"]) == 40, "an access key is made, its secret shown")
listed = rest("GET", "/api/v1/users/s3user/keys")["keys"]
check([k["access_key_id"] for k in listed] == [key["access_key_id"]] and "secret_access_key" not in listed[0], "keys are listed without secrets")


def client(url, access=key["access_key_id"], secret=key["secret_access_key"], **config):
    return boto3.client("s3", endpoint_url=url, aws_access_key_id=access, aws_secret_access_key=secret,
                        region_name="us-east-1", config=Config(**config))


s3 = client(s3_url)
other = client(s3_url2)  # the same user through another agent

# Buckets.
s3.create_bucket(Bucket="tools")
check([b["Name"] for b in other.list_buckets()["Buckets"]] == ["tools"], "a bucket made on one agent is listed by another")
other.create_bucket(Bucket="tools")  # as in us-east-1: creating one's own bucket again succeeds
other.head_bucket(Bucket="tools")
expect_error("404", lambda: s3.head_bucket(Bucket="no-such-bucket"))
expect_error("InvalidBucketName", lambda: s3.create_bucket(Bucket="Bad_Name"))

# Objects, with boto3's default checksums (CRC32 in an aws-chunked trailer, or a header).
data = os.urandom(3 * 1024 * 1024 + 17)
put = s3.put_object(Bucket="tools", Key="dir/a.bin", Body=data, Metadata={"color": "blue"}, ContentType="application/x-test",
                    CacheControl="max-age=60")
check(put["ETag"] == '"%s"' % hashlib.md5(data).hexdigest(), "the ETag is the MD5 of the object")
got = other.get_object(Bucket="tools", Key="dir/a.bin", ChecksumMode="ENABLED")
check(got["Body"].read() == data, "the object reads back byte-identical through another agent")
check(got["ContentType"] == "application/x-test" and got["Metadata"] == {"color": "blue"} and got["CacheControl"] == "max-age=60",
      "content type, user metadata and content headers are kept")
part = other.get_object(Bucket="tools", Key="dir/a.bin", Range="bytes=1000-1999")
check(part["Body"].read() == data[1000:2000] and part["ContentRange"] == f"bytes 1000-1999/{len(data)}", "a range reads just those bytes")
check(s3.head_object(Bucket="tools", Key="dir/a.bin")["ContentLength"] == len(data), "HEAD gives the length")
expect_error("NoSuchKey", lambda: s3.get_object(Bucket="tools", Key="dir/missing"))
expect_error("304", lambda: s3.get_object(Bucket="tools", Key="dir/a.bin", IfNoneMatch=put["ETag"]))
expect_error("PreconditionFailed", lambda: s3.get_object(Bucket="tools", Key="dir/a.bin", IfMatch='"0123"'))
md5 = base64.b64encode(hashlib.md5(b"other bytes").digest()).decode()
expect_error("BadDigest", lambda: s3.put_object(Bucket="tools", Key="dir/bad", Body=b"some bytes", ContentMD5=md5))
expect_error("NoSuchKey", lambda: s3.head_object(Bucket="tools", Key="dir/bad") if False else s3.get_object(Bucket="tools", Key="dir/bad"))
signed_sha = client(s3_url, request_checksum_calculation="when_required", s3={"payload_signing_enabled": True})
signed_sha.put_object(Bucket="tools", Key="dir/signed.txt", Body=b"signed payload")
check(s3.get_object(Bucket="tools", Key="dir/signed.txt")["Body"].read() == b"signed payload", "a body signed by its SHA-256 is stored")

expect_error("PreconditionFailed", lambda: s3.put_object(Bucket="tools", Key="dir/a.bin", Body=b"over", IfNoneMatch="*"))
s3.put_object(Bucket="tools", Key="dir/created-once", Body=b"once", IfNoneMatch="*")
check(s3.get_object(Bucket="tools", Key="dir/created-once")["Body"].read() == b"once", "If-None-Match: * creates a new key, and refuses an existing one")
expect_error("NotImplemented", lambda: s3.put_object(Bucket="tools", Key="dir/encrypted", Body=b"x", ServerSideEncryption="aws:kms"))
s3.delete_object(Bucket="tools", Key="dir/created-once")
long_key = "k/" + "x" * 1022
s3.put_object(Bucket="tools", Key=long_key, Body=b"long")
check(s3.get_object(Bucket="tools", Key=long_key)["Body"].read() == b"long", "a key of 1,024 bytes is stored")
expect_error("KeyTooLongError", lambda: s3.put_object(Bucket="tools", Key=long_key + "x", Body=b"longer"))
s3.delete_object(Bucket="tools", Key=long_key)

# Listing: delimiter, paging (v2 tokens and v1 markers), keys REST cannot name.
keys = ["dir/b.txt", "dir/sub/c.txt", "top.txt", "weird//key/", "caf\u00e9", "cafe\u0301", "line\rbreak"]
for name in keys:
    s3.put_object(Bucket="tools", Key=name, Body=name.encode())
everything = sorted(["dir/a.bin", "dir/signed.txt"] + keys, key=lambda k: k.encode())
page = s3.list_objects_v2(Bucket="tools", Delimiter="/")
check([c["Key"] for c in page.get("Contents", [])] == [k for k in everything if "/" not in k] and
      [p["Prefix"] for p in page["CommonPrefixes"]] == ["dir/", "weird/"], "a delimiter rolls keys up into common prefixes")
seen, token = [], None
while True:
    page = s3.list_objects_v2(Bucket="tools", MaxKeys=3, **({"ContinuationToken": token} if token else {}))
    seen += [c["Key"] for c in page.get("Contents", [])]
    if not page["IsTruncated"]:
        break
    token = page["NextContinuationToken"]
check(seen == everything, "paging ListObjectsV2 three at a time lists every key once, in byte order")
check([c["Key"] for c in s3.get_paginator("list_objects").paginate(Bucket="tools", PaginationConfig={"PageSize": 2}).build_full_result()["Contents"]] == everything,
      "ListObjects (v1) pages with markers")
listed = s3.list_objects_v2(Bucket="tools", Prefix="dir/")["Contents"]
check({c["Key"]: c["ETag"] for c in listed}["dir/a.bin"] == put["ETag"], "listings carry the ETag")
encoded = s3.list_objects_v2(Bucket="tools", Prefix="caf", EncodingType="url")
check(sorted(c["Key"] for c in encoded["Contents"]) == ["caf%C3%A9", "cafe%CC%81"], "encoding-type=url percent-encodes keys; canonically equivalent keys stay two objects")

# One namespace, two doors: the object is the file tools/dir/a.bin of s3user.
through_rest = rest("GET", "/api/v1/files/tools/dir/a.bin?owner=s3user", raw=True)
check(through_rest == data, "the object is the same bytes through REST")
rest_bytes = os.urandom(2 * 1024 * 1024)
rest("PUT", "/api/v1/files/from-rest.bin", rest_bytes, user="s3user", password="s3user-password", raw=True)
def chunk_writes():
    total = 0.0
    for url in rest_urls:
        text = urllib.request.urlopen(url + "/metrics", timeout=30).read().decode()
        total += sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith("filestore_chunk_puts_total"))
    return total
before = chunk_writes()
s3.put_object(Bucket="tools", Key="same-as-rest.bin", Body=rest_bytes)
meta_rest = rest("GET", "/api/v1/meta/from-rest.bin?owner=s3user")
meta_s3 = rest("GET", "/api/v1/meta/tools/same-as-rest.bin?owner=s3user")
check([c["sha256"] for c in meta_rest["chunks"]] == [c["sha256"] for c in meta_s3["chunks"]], "an S3 upload of content stored through REST names the same chunks")
check(chunk_writes() == before, "and stored no new chunk (no node wrote one)")

# Multipart uploads: boto3's transfer manager, 8 threads, 1 GiB (parts of 8 MiB).
from boto3.s3.transfer import TransferConfig
large = os.path.join(work, "large.bin")
with open(large, "wb") as handle:
    block = os.urandom(1 << 20)
    for index in range(1024):
        handle.write(block[index:] + block[:index])
def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for piece in iter(lambda: handle.read(1 << 20), b""):
            digest.update(piece)
    return digest.hexdigest()
transfer = TransferConfig(multipart_threshold=8 << 20, multipart_chunksize=8 << 20, max_concurrency=8)
s3.upload_file(large, "tools", "large/1GiB.bin", Config=transfer)
head = other.head_object(Bucket="tools", Key="large/1GiB.bin")
check(head["ContentLength"] == 1 << 30 and head["ETag"].endswith('-128"'), "a 1 GiB multipart upload of 128 parts is one object, ETag md5-128")
back_large = os.path.join(work, "large.back")
other.download_file("tools", "large/1GiB.bin", back_large, Config=transfer)
check(file_sha256(back_large) == file_sha256(large), "it downloads byte-identical (ranged, 8 threads, through another agent)")
os.remove(back_large)
started = s3.create_multipart_upload(Bucket="tools", Key="mp/parts.bin", Metadata={"kind": "parts"})
upload_id = started["UploadId"]
first = s3.upload_part(Bucket="tools", Key="mp/parts.bin", UploadId=upload_id, PartNumber=1, Body=b"a" * (5 << 20))
second = s3.upload_part(Bucket="tools", Key="mp/parts.bin", UploadId=upload_id, PartNumber=2, Body=b"tail")
listed_parts = s3.list_parts(Bucket="tools", Key="mp/parts.bin", UploadId=upload_id)["Parts"]
check([(p["PartNumber"], p["Size"]) for p in listed_parts] == [(1, 5 << 20), (2, 4)], "ListParts lists the parts")
check([u["UploadId"] for u in s3.list_multipart_uploads(Bucket="tools")["Uploads"]] == [upload_id], "ListMultipartUploads lists the upload")
expect_error("InvalidPartOrder", lambda: s3.complete_multipart_upload(Bucket="tools", Key="mp/parts.bin", UploadId=upload_id,
             MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": second["ETag"]}, {"PartNumber": 1, "ETag": first["ETag"]}]}))
expect_error("InvalidPart", lambda: s3.complete_multipart_upload(Bucket="tools", Key="mp/parts.bin", UploadId=upload_id,
             MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": second["ETag"]}]}))
expect_error("EntityTooSmall", lambda: s3.complete_multipart_upload(Bucket="tools", Key="mp/parts.bin", UploadId=upload_id,
             MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": second["ETag"]}, {"PartNumber": 3, "ETag": second["ETag"]}]}))
done = s3.complete_multipart_upload(Bucket="tools", Key="mp/parts.bin", UploadId=upload_id,
                                    MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": first["ETag"]}, {"PartNumber": 2, "ETag": second["ETag"]}]})
expected_etag = hashlib.md5(hashlib.md5(b"a" * (5 << 20)).digest() + hashlib.md5(b"tail").digest()).hexdigest() + "-2"
check(done["ETag"] == f'"{expected_etag}"', "the multipart ETag is md5 of the parts' md5s, -N")
got = other.get_object(Bucket="tools", Key="mp/parts.bin")
check(got["Body"].read() == b"a" * (5 << 20) + b"tail" and got["Metadata"] == {"kind": "parts"}, "the completed object reads back, with the upload's metadata")
expect_error("NoSuchUpload", lambda: s3.list_parts(Bucket="tools", Key="mp/parts.bin", UploadId=upload_id))
aborted = s3.create_multipart_upload(Bucket="tools", Key="mp/aborted.bin")["UploadId"]
s3.upload_part(Bucket="tools", Key="mp/aborted.bin", UploadId=aborted, PartNumber=1, Body=b"gone")
s3.abort_multipart_upload(Bucket="tools", Key="mp/aborted.bin", UploadId=aborted)
check(s3.list_multipart_uploads(Bucket="tools").get("Uploads", []) == [], "an aborted upload is gone")
expect_error("NoSuchKey", lambda: s3.get_object(Bucket="tools", Key="mp/aborted.bin"))
bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&a;</ETag></Part></CompleteMultipartUpload>'
bomb_id = s3.create_multipart_upload(Bucket="tools", Key="mp/bomb")["UploadId"]
bomb_url = client(s3_url, signature_version="s3v4").generate_presigned_url(
    "complete_multipart_upload", Params={"Bucket": "tools", "Key": "mp/bomb", "UploadId": bomb_id}, ExpiresIn=60)
try:
    urllib.request.urlopen(urllib.request.Request(bomb_url, data=bomb, method="POST"), timeout=60)
    check(False, "a body with a DOCTYPE is refused")
except urllib.error.HTTPError as error:
    check(error.code == 400 and b"MalformedXML" in error.read(), "a body with a DOCTYPE or entities is refused (MalformedXML)")

# Copies are manifests over the same chunks: no byte moves, and no node writes a chunk.
before = chunk_writes()
copied = s3.copy_object(Bucket="tools", Key="copies/a.bin", CopySource={"Bucket": "tools", "Key": "dir/a.bin"})
check(copied["CopyObjectResult"]["ETag"] == put["ETag"], "CopyObject keeps the ETag")
got = other.get_object(Bucket="tools", Key="copies/a.bin")
check(got["Body"].read() == data and got["Metadata"] == {"color": "blue"}, "the copy reads back with the source's metadata (COPY)")
s3.copy_object(Bucket="tools", Key="copies/replaced.bin", CopySource="tools/dir/a.bin", MetadataDirective="REPLACE", Metadata={"new": "yes"}, ContentType="text/x-new")
got = s3.head_object(Bucket="tools", Key="copies/replaced.bin")
check(got["Metadata"] == {"new": "yes"} and got["ContentType"] == "text/x-new", "MetadataDirective REPLACE takes the request's metadata")
expect_error("InvalidRequest", lambda: s3.copy_object(Bucket="tools", Key="dir/a.bin", CopySource="tools/dir/a.bin"))
expect_error("PreconditionFailed", lambda: s3.copy_object(Bucket="tools", Key="copies/no", CopySource="tools/dir/a.bin", CopySourceIfMatch='"0000"'))
large_copy = s3.copy_object(Bucket="tools", Key="copies/1GiB.bin", CopySource="tools/large/1GiB.bin")
check(chunk_writes() == before, "copying 1 GiB wrote no chunk anywhere")
check(s3.head_object(Bucket="tools", Key="copies/1GiB.bin")["ContentLength"] == 1 << 30, "the 1 GiB copy is whole")
started = s3.create_multipart_upload(Bucket="tools", Key="copies/assembled.bin")["UploadId"]
whole = s3.upload_part_copy(Bucket="tools", Key="copies/assembled.bin", UploadId=started, PartNumber=1, CopySource="tools/mp/parts.bin")
ranged = s3.upload_part_copy(Bucket="tools", Key="copies/assembled.bin", UploadId=started, PartNumber=2, CopySource="tools/dir/a.bin", CopySourceRange="bytes=100-199")
s3.complete_multipart_upload(Bucket="tools", Key="copies/assembled.bin", UploadId=started, MultipartUpload={"Parts": [
    {"PartNumber": 1, "ETag": whole["CopyPartResult"]["ETag"]}, {"PartNumber": 2, "ETag": ranged["CopyPartResult"]["ETag"]}]})
check(s3.get_object(Bucket="tools", Key="copies/assembled.bin")["Body"].read() == b"a" * (5 << 20) + b"tail" + data[100:200], "UploadPartCopy, whole and ranged, assembles the right bytes")
expect_error("InvalidRange", lambda: s3.upload_part_copy(Bucket="tools", Key="copies/x", UploadId=s3.create_multipart_upload(Bucket="tools", Key="copies/x")["UploadId"],
             PartNumber=1, CopySource="tools/dir/a.bin", CopySourceRange=f"bytes=0-{len(data)}"))

# Small objects live in their manifests (cluster.inline_max): no chunk is written for them, and
# ranged reads, copies and UploadPartCopy (a part always gets chunks) work on them as on any other.
small = os.urandom(3000)
before = chunk_writes()
small_put = s3.put_object(Bucket="tools", Key="small/s.bin", Body=small)
check(chunk_writes() == before, "a 3,000-byte object wrote no chunk anywhere")
check(small_put["ETag"] == '"%s"' % hashlib.md5(small).hexdigest(), "a small object's ETag is its MD5")
ranged_small = other.get_object(Bucket="tools", Key="small/s.bin", Range="bytes=10-19")
check(ranged_small["Body"].read() == small[10:20] and ranged_small["ContentRange"] == "bytes 10-19/3000", "a ranged GET of a small object")
s3.copy_object(Bucket="tools", Key="small/copy.bin", CopySource="tools/small/s.bin")
check(other.get_object(Bucket="tools", Key="small/copy.bin")["Body"].read() == small, "a copy of a small object reads back")
small_upload = s3.create_multipart_upload(Bucket="tools", Key="small/assembled.bin")["UploadId"]
part_one = s3.upload_part_copy(Bucket="tools", Key="small/assembled.bin", UploadId=small_upload, PartNumber=1, CopySource="tools/mp/parts.bin")
part_two = s3.upload_part_copy(Bucket="tools", Key="small/assembled.bin", UploadId=small_upload, PartNumber=2, CopySource="tools/small/s.bin")
s3.complete_multipart_upload(Bucket="tools", Key="small/assembled.bin", UploadId=small_upload, MultipartUpload={"Parts": [
    {"PartNumber": 1, "ETag": part_one["CopyPartResult"]["ETag"]}, {"PartNumber": 2, "ETag": part_two["CopyPartResult"]["ETag"]}]})
check(other.get_object(Bucket="tools", Key="small/assembled.bin")["Body"].read() == b"a" * (5 << 20) + b"tail" + small,
      "UploadPartCopy of a whole small object as the last part assembles the right bytes")
check(rest("GET", "/api/v1/meta/tools/small/s.bin?owner=s3user")["chunks"] == [], "a small object lists no chunks")

# DeleteObjects, verbose and quiet; ListObjectVersions of an unversioned bucket.
answer = s3.delete_objects(Bucket="tools", Delete={"Objects": [{"Key": "copies/a.bin"}, {"Key": "copies/never-was"}, {"Key": "copies/replaced.bin", "VersionId": "v1"}]})
check(sorted(d["Key"] for d in answer.get("Deleted", [])) == ["copies/a.bin", "copies/never-was"] and [e["Code"] for e in answer.get("Errors", [])] == ["NoSuchVersion"],
      "DeleteObjects deletes each key and names the ones it could not")
quiet = s3.delete_objects(Bucket="tools", Delete={"Objects": [{"Key": "copies/replaced.bin"}, {"Key": "copies/1GiB.bin"}], "Quiet": True})
check("Deleted" not in quiet and "Errors" not in quiet, "a quiet DeleteObjects answers nothing when all went well")
expect_error("NoSuchKey", lambda: s3.get_object(Bucket="tools", Key="copies/1GiB.bin"))
versions = s3.list_object_versions(Bucket="tools", Prefix="dir/")
check([v["VersionId"] for v in versions["Versions"]] == ["null"] * len(versions["Versions"]) and all(v["IsLatest"] for v in versions["Versions"])
      and "dir/a.bin" in [v["Key"] for v in versions["Versions"]], "ListObjectVersions lists each object once, as version null")

# Authentication failures.
expect_error("SignatureDoesNotMatch", lambda: client(s3_url, secret="x" * 40).list_buckets())
expect_error("InvalidAccessKeyId", lambda: client(s3_url, access="FSAAAAAAAAAAAAAAAAAA").list_buckets())
url = client(s3_url, signature_version="s3v4").generate_presigned_url("get_object", Params={"Bucket": "tools", "Key": "dir/a.bin"}, ExpiresIn=120)
check(urllib.request.urlopen(url, timeout=60).read() == data, "a presigned URL reads the object without credentials")
try:
    urllib.request.urlopen(url.replace("dir/a.bin", "dir/b.txt"), timeout=60)
    check(False, "a presigned URL for another key is refused")
except urllib.error.HTTPError as error:
    check(error.code == 403, "a presigned URL changed to another key is refused (403)")

# Another user: no access to s3user's bucket, and the name is taken.
rest("POST", "/api/v1/users", json.dumps({"name": "mallory", "password": "mallory-password", "role": "user"}).encode())
mallory_key = rest("POST", "/api/v1/users/mallory/keys", b"", user="mallory", password="mallory-password")
mallory = client(s3_url, access=mallory_key["access_key_id"], secret=mallory_key["secret_access_key"])
expect_error("AccessDenied", lambda: mallory.get_object(Bucket="tools", Key="dir/a.bin"))
expect_error("AccessDenied", lambda: mallory.list_objects_v2(Bucket="tools"))
expect_error("BucketAlreadyExists", lambda: mallory.create_bucket(Bucket="tools"))
check(mallory.list_buckets()["Buckets"] == [], "another user lists none of them")

# Deleting.
expect_error("BucketNotEmpty", lambda: s3.delete_bucket(Bucket="tools"))
s3.delete_object(Bucket="tools", Key="top.txt")
s3.delete_object(Bucket="tools", Key="never-was")
expect_error("NoSuchKey", lambda: other.get_object(Bucket="tools", Key="top.txt"))

# The aws cli, as its users use it.
tree = os.path.join(work, "tree")
os.makedirs(os.path.join(tree, "sub/deeper"), exist_ok=True)
files = {"a.txt": b"hello\n", "sub/b.bin": os.urandom(300_000), "sub/deeper/c.txt": b"deep\n"}
for name, content in files.items():
    with open(os.path.join(tree, name), "wb") as handle:
        handle.write(content)
config = os.path.join(work, "aws-config")
with open(config, "w") as handle:
    handle.write("[default]\nregion = us-east-1\ns3 =\n    signature_version = s3v4\n")
environment = dict(os.environ, AWS_ACCESS_KEY_ID=key["access_key_id"], AWS_SECRET_ACCESS_KEY=key["secret_access_key"], AWS_CONFIG_FILE=config,
                   AWS_SHARED_CREDENTIALS_FILE=os.path.join(work, "none"))


def aws(*arguments, url=s3_url):
    result = subprocess.run(["aws", "--endpoint-url", url, *arguments], env=environment, capture_output=True, text=True, timeout=300)
    check(result.returncode == 0, f"aws {' '.join(arguments)}" + ("" if result.returncode == 0 else f": {result.stderr[-2000:]}"))
    return result.stdout


aws("s3", "mb", "s3://cli-bucket")
big = os.path.join(work, "200MiB.bin")
with open(large, "rb") as source, open(big, "wb") as target:
    target.write(source.read(200 << 20))
aws("s3", "cp", "--only-show-errors", big, "s3://cli-bucket/big/200MiB.bin")
check('-' in json.loads(aws("s3api", "head-object", "--bucket", "cli-bucket", "--key", "big/200MiB.bin", url=s3_url2))["ETag"], "aws s3 cp of 200 MiB is a multipart upload")
aws("s3", "cp", "--only-show-errors", "s3://cli-bucket/big/200MiB.bin", big + ".back", url=s3_url2)
check(file_sha256(big + ".back") == file_sha256(big), "and it comes back byte-identical")
os.remove(big + ".back")
aws("s3", "cp", "--only-show-errors", os.path.join(tree, "a.txt"), "s3://cli-bucket/single/a.txt")
aws("s3", "sync", "--only-show-errors", tree, "s3://cli-bucket/tree")
listing = aws("s3", "ls", "--recursive", "s3://cli-bucket", url=s3_url2)
check(all(f"tree/{name}" in listing for name in files) and "single/a.txt" in listing, "aws s3 ls lists what cp and sync stored")
check("upload:" not in aws("s3", "sync", tree, "s3://cli-bucket/tree"), "a second sync uploads nothing")
presigned = aws("s3", "presign", "s3://cli-bucket/tree/sub/b.bin", "--expires-in", "300").strip()
fetched = subprocess.run(["curl", "-sf", presigned], capture_output=True, timeout=60)
check(fetched.returncode == 0 and fetched.stdout == files["sub/b.bin"], "curl reads the aws cli's presigned URL")
back = os.path.join(work, "back")
aws("s3", "sync", "--only-show-errors", "s3://cli-bucket/tree", back, url=s3_url2)
check(all(open(os.path.join(back, name), "rb").read() == content for name, content in files.items()), "sync back gives the same bytes")
aws("s3", "rm", "--only-show-errors", "--recursive", "s3://cli-bucket")
aws("s3", "rb", "s3://cli-bucket")
check("cli-bucket" not in aws("s3", "ls"), "the removed bucket is gone")

def run(what, command, env=None, timeout=600):
    result = subprocess.run(command, env=env or environment, capture_output=True, text=True, timeout=timeout)
    check(result.returncode == 0, what + ("" if result.returncode == 0 else f": {result.stdout[-1500:]} {result.stderr[-2500:]}"))
    return result


# rclone: sync, check (MD5s compared), and a second sync that moves nothing.
endpoint_port = s3_url.rsplit(":", 1)[1]
# rclone's AWS SDK refuses to start when AWS_CA_BUNDLE is set with a plain-http endpoint.
plain = {name: value for name, value in environment.items() if name != "AWS_CA_BUNDLE"}
rclone_env = dict(plain, RCLONE_CONFIG_FS_TYPE="s3", RCLONE_CONFIG_FS_PROVIDER="Other", RCLONE_CONFIG_FS_ENDPOINT=s3_url,
                  RCLONE_CONFIG_FS_ACCESS_KEY_ID=key["access_key_id"], RCLONE_CONFIG_FS_SECRET_ACCESS_KEY=key["secret_access_key"],
                  RCLONE_CONFIG_FS_REGION="us-east-1", RCLONE_CONFIG=os.path.join(work, "rclone.conf"))
with open(os.path.join(tree, "sub/large.bin"), "wb") as handle:
    handle.write(os.urandom(12 << 20))
run("rclone sync", ["rclone", "sync", "-v", tree, "fs:rclone-bucket/tree"], env=rclone_env)
checked = run("rclone check (MD5s compared)", ["rclone", "check", tree, "fs:rclone-bucket/tree"], env=rclone_env)
check("0 differences found" in checked.stderr and "hashes could not be checked" not in checked.stderr, "rclone check compared every file's MD5: " + checked.stderr.strip().splitlines()[-1])
again = run("rclone sync again", ["rclone", "sync", "-v", tree, "fs:rclone-bucket/tree"], env=rclone_env)
check("Copied" not in again.stderr, "a second rclone sync copies nothing")
os.remove(os.path.join(tree, "sub/large.bin"))

# restic: init, backup, check --read-data, restore byte-identical.
restic_env = dict(plain, RESTIC_REPOSITORY=f"s3:{s3_url}/restic-bucket", RESTIC_PASSWORD="restic-test-password", RESTIC_CACHE_DIR=os.path.join(work, "restic-cache"))
s3.create_bucket(Bucket="restic-bucket")
run("restic init", ["restic", "init"], env=restic_env)
run("restic backup", ["restic", "backup", tree], env=restic_env)
run("restic check --read-data", ["restic", "check", "--read-data"], env=restic_env)
restored = os.path.join(work, "restored")
run("restic restore", ["restic", "restore", "latest", "--target", restored], env=restic_env)
check(all(open(os.path.join(restored, tree.lstrip("/"), name), "rb").read() == content for name, content in files.items()), "restic restores the tree byte-identical")

# s3cmd: put, get, ls (path-style, SigV4).
s3cfg = os.path.join(work, "s3cfg")
with open(s3cfg, "w") as handle:
    handle.write(f"[default]\naccess_key = {key['access_key_id']}\nsecret_key = {key['secret_access_key']}\nhost_base = 127.0.0.1:{endpoint_port}\n"
                 f"host_bucket = 127.0.0.1:{endpoint_port}\nuse_https = False\nsignature_v2 = False\nbucket_location = us-east-1\n")
run("s3cmd mb", ["s3cmd", "-c", s3cfg, "mb", "s3://s3cmd-bucket"])
run("s3cmd put", ["s3cmd", "-c", s3cfg, "put", os.path.join(tree, "sub/b.bin"), "s3://s3cmd-bucket/b.bin"])
run("s3cmd get", ["s3cmd", "-c", s3cfg, "get", "s3://s3cmd-bucket/b.bin", os.path.join(work, "s3cmd-back.bin")])
check(open(os.path.join(work, "s3cmd-back.bin"), "rb").read() == files["sub/b.bin"], "s3cmd gets back the same bytes")
check("s3://s3cmd-bucket/b.bin" in run("s3cmd ls", ["s3cmd", "-c", s3cfg, "ls", "s3://s3cmd-bucket"]).stdout, "s3cmd ls lists it")

os.remove(large)
os.remove(big)
print("ALL S3 TOOL CHECKS PASSED")
