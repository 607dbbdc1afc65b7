"""The AWS adapters: the only modules that import boto3 or botocore. Each implements a port its consumer
declares in a pure module and turns AWS errors into domain errors through `aws.errors`."""
