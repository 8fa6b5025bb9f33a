// Evaluate IAM requests with @cloud-copilot/iam-simulate (test-only dev dependency, AGPL-3.0).
//
// stdin:  {"simulations": [{"id": "...", "simulation": <Simulation>}], "explain": false}
// stdout: {"results": [{"id", "result", "validated", "errors"?, "analysis"?}]}
//
// Each request runs twice. `runSimulation` validates the policies, the action, the resource
// type and the context keys, and its result is `validated`. It drops context keys it does not
// know for the action; among them are KMS's `kms:EncryptionContext:<key>` keys (the engine
// matches variable keys only at a '/'), so a statement conditioned on the encryption context
// would never match there. `result` is the same request evaluated by `runUnsafeSimulation`,
// which applies every context key as given: the pytest side accepts a difference between the
// two only for requests that carry an encryption context.
import { loadPolicy } from '@cloud-copilot/iam-policy'
import { runSimulation, runUnsafeSimulation } from '@cloud-copilot/iam-simulate'

// runUnsafeSimulation loads the resource policy without a name and then reads its name (0.1.173):
// give a policy loaded without metadata a name instead of failing.
const policyPrototype = Object.getPrototypeOf(loadPolicy({ Version: '2012-10-17', Statement: [] }))
const metadata = policyPrototype.metadata
policyPrototype.metadata = function () {
  return metadata.call(this) ?? { name: 'ResourcePolicy' }
}

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const input = JSON.parse(Buffer.concat(chunks).toString('utf8'))

const results = []
for (const { id, simulation } of input.simulations) {
  const checked = await runSimulation(simulation, { simulationMode: 'Strict' })
  if (checked.resultType === 'error') {
    results.push({ id, result: 'Error', validated: 'Error', errors: checked.errors })
    continue
  }
  const unsafe = runUnsafeSimulation(simulation, { simulationMode: 'Strict' })
  const result = typeof unsafe === 'string' ? unsafe : unsafe.result
  const entry = { id, result, validated: checked.overallResult }
  if (input.explain) entry.analysis = unsafe
  results.push(entry)
}
process.stdout.write(JSON.stringify({ results }))
