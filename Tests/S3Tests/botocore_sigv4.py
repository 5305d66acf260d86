#!/usr/bin/env python3
"""Signs requests with botocore's own SigV4 signers, as a reference for filestore's signer.

Reads a JSON list of cases from the file named by its argument and writes a JSON list of answers on stdout, one per case,
in order. Each case: method, path (decoded, starting with "/"), query ([[name, value]], decoded),
headers ([[name, value]], host included), body (hex), timestamp ("yyyyMMddTHHmmssZ"), access_key,
secret_key, token (absent or null), region, service, and expires (absent for header signing, seconds for a
presigned URL). Each answer: signature, canonical_request and (header signing) authorization.

botocore is the signer behind boto3 and the aws cli: agreeing with it over generated requests is
what "speaks S3 to every existing tool" needs. S3's signers never normalise the path.
"""
import datetime
import json
import sys
from urllib.parse import quote

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def sign(case):
    moment = datetime.datetime.strptime(case["timestamp"], "%Y%m%dT%H%M%SZ")
    # The signers read the clock through this function; a case carries its own time.
    botocore.auth.get_current_datetime = lambda *args, **kwargs: moment
    credentials = Credentials(case["access_key"], case["secret_key"], case.get("token"))
    url = "http://" + dict((n.lower(), v) for n, v in case["headers"])["host"] + quote(case["path"], safe="/")
    request = AWSRequest(method=case["method"], url=url, data=bytes.fromhex(case["body"]))
    for name, value in case["headers"]:
        request.headers[name] = value
    request.params = [tuple(pair) for pair in case["query"]]
    if case.get("expires") is None:
        signer = botocore.auth.S3SigV4Auth(credentials, case["service"], case["region"])
    else:
        signer = botocore.auth.S3SigV4QueryAuth(credentials, case["service"], case["region"], expires=case.get("expires"))
    seen = {}
    original = signer.canonical_request

    def recording(req):
        seen["canonical_request"] = original(req)
        return seen["canonical_request"]

    signer.canonical_request = recording
    signer.add_auth(request)
    if case.get("expires") is None:
        authorization = request.headers["Authorization"]
        signature = authorization.rsplit("Signature=", 1)[1]
        return {"signature": signature, "authorization": authorization, "canonical_request": seen["canonical_request"]}
    signature = request.url.rsplit("X-Amz-Signature=", 1)[1]
    return {"signature": signature, "authorization": None, "canonical_request": seen["canonical_request"]}


if __name__ == "__main__":
    with open(sys.argv[1]) as cases:
        json.dump([sign(case) for case in json.load(cases)], sys.stdout)
