"""Code that runs on AWS, not at synth: Lambda handlers and the app's connection contract.

Everything here is packaged into Lambda assets by `constructs/python_lambda.py`, so it may import
only the standard library, boto3/botocore (in the Lambda runtime) and the pure-Python packages the
asset bundles (pg8000 and its dependencies). Never import aws_cdk, config, stacks or ops from here.
"""
