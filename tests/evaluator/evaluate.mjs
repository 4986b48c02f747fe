// Evaluate IAM requests with @cloud-copilot/iam-simulate (a test tool only: AGPL-3.0-or-later,
// never part of the deployment package).
//
// stdin:  a JSON array of requests, each
//   {action, resource, resource_account?, principal, context, identity_policies: [doc],
//    resource_policy: doc | null, scps: [doc]?, boundary: doc | null?}
// stdout: a JSON array, one item per request, in order:
//   {decision: "Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied", ignored_context_keys: [...]}
//   or {error: "..."} when the simulator refused the input (an invalid policy, action or key).
import { runSimulation } from '@cloud-copilot/iam-simulate'

function accountOf(arn) {
  const parts = String(arn).split(':')
  return parts.length > 4 ? parts[4] : ''
}

function simulationOf(request) {
  const resourceAccount =
    request.resource_account || accountOf(request.resource) || accountOf(request.principal)
  const simulation = {
    request: {
      principal: request.principal,
      action: request.action,
      resource: { resource: request.resource, accountId: resourceAccount },
      contextVariables: request.context || {}
    },
    identityPolicies: (request.identity_policies || []).map((policy, i) => ({
      name: `identity${i}`,
      policy
    })),
    serviceControlPolicies: (request.scps || []).length
      ? [
          {
            orgIdentifier: 'ou-test',
            policies: request.scps.map((policy, i) => ({ name: `scp${i}`, policy }))
          }
        ]
      : [],
    resourceControlPolicies: []
  }
  if (request.resource_policy) simulation.resourcePolicy = request.resource_policy
  if (request.boundary) {
    simulation.permissionBoundaryPolicies = [{ name: 'boundary', policy: request.boundary }]
  }
  return simulation
}

async function evaluate(request) {
  try {
    const response = await runSimulation(simulationOf(request), {})
    if (response.resultType === 'error') {
      return { error: JSON.stringify(response.errors) }
    }
    const results = response.resultType === 'single' ? [response.result] : response.results
    const ignored = [...new Set(results.flatMap((r) => r.ignoredContextKeys || []))]
    return { decision: response.overallResult, ignored_context_keys: ignored }
  } catch (error) {
    return { error: String(error && error.stack ? error.stack : error) }
  }
}

async function main() {
  const chunks = []
  for await (const chunk of process.stdin) chunks.push(chunk)
  const requests = JSON.parse(Buffer.concat(chunks).toString('utf8'))
  if (!Array.isArray(requests)) throw new Error('stdin must be a JSON array of requests')
  const answers = []
  for (const request of requests) answers.push(await evaluate(request))
  process.stdout.write(JSON.stringify(answers))
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack ? error.stack : error) + '\n')
  process.exit(1)
})
