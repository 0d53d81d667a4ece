// Package verify decides whether an image, named by the digest that will run,
// may run under the node's policy.
//
// Where things are:
//
//   - policy.go: the policy model (scopes, modes, requirements) and its
//     own validation;
//   - engine.go: Decide, snapshots of policy and keys, how a verification
//     combines signature kinds;
//   - verdict.go: the verdict and its typed cause;
//   - cache.go: verdicts with expiry, and verifications in flight;
//   - cosign.go, notation.go, revocation.go: the two signature kinds;
//   - excerpt.go: untrusted error text made safe for messages.
package verify
