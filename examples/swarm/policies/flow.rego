# Deployment rules for every flow (input: flows/flow.yaml). Each deny message is a finding.
package swarm.flow

import rego.v1

# Only the deployer agent deploys.
deny contains msg if {
	some node in input.nodes
	node.id == "deploy"
	node.agent != "deployer"
	msg := sprintf("step 'deploy' is run by '%s'; only 'deployer' may deploy", [node.agent])
}

# Nothing is deployed unless it was reviewed right before.
deny contains msg if {
	some edge in input.edges
	edge.to == "deploy"
	edge.from != "review"
	msg := sprintf("'deploy' follows '%s'; it must follow 'review'", [edge.from])
}
