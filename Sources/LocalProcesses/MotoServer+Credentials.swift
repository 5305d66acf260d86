extension MotoServer {
    /// The Python program that turns on SigV4 checking in a fresh moto_server and prints
    /// credentials that pass it. moto verifies request signatures once INITIAL_NO_AUTH_ACTION_COUNT
    /// requests have been served without checks; started with INITIAL_NO_AUTH_ACTION_COUNT=3, its
    /// first three requests create an IAM user, an inline allow-all policy and an access key, and
    /// every request after that is checked, so a wrong signature fails. Prints
    /// `{"access_key": ..., "secret_key": ...}`. Kept in the binary (run with `python3 -c`), so
    /// `filestore dev --storage s3` needs no file of the repository.
    static let credentialsProgram = #"""
        import json
        import sys

        import boto3

        endpoint = sys.argv[1]
        iam = boto3.client(
            "iam",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="bootstrap",
            aws_secret_access_key="bootstrap",
        )
        iam.create_user(UserName="filestore")
        iam.put_user_policy(
            UserName="filestore",
            PolicyName="allow-all",
            PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
            ),
        )
        key = iam.create_access_key(UserName="filestore")["AccessKey"]
        print(json.dumps({"access_key": key["AccessKeyId"], "secret_key": key["SecretAccessKey"]}))
        """#
}
