"""How the app is synthesized fast (issue 21), below `app.py` and `ops bench`.

- `kernel`: the jsii kernel (the Node.js process that runs aws-cdk-lib for Python) without its
  relay process, a third fewer pipe hops per construct call.
- `shards`: a large app synthesized by several processes, each building every platform and a
  share of the restaurants, merged into one cloud assembly the CDK CLI reads as usual.
"""
