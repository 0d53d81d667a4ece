// Package verify decides whether an image, named by the digest that will run,
// may run under the node's policy.
//
// Where things are:
//
//   - policy.go: the policy model (scopes, modes, requirements) and its
//     own validation;
//   - names.go: the one spelling of registry hosts and repositories that
//     scopes are matched against;
//   - engine.go: Decide, snapshots of policy and keys, how a verification
//     combines signature kinds;
//   - verdict.go: the verdict and its typed cause;
//   - cache.go: verdicts with expiry, and verifications in flight;
//   - lookups.go: what one verification reads once from the registry for
//     several requirements (the referrers);
//   - cosign.go: cosign signatures (legacy .sig and bundles) against keys,
//     and how thresholds count distinct key material;
//   - keyless.go: Sigstore trust roots and keyless (Fulcio identity)
//     signatures;
//   - logkinds.go: the Rekor entry kinds accepted before an entry is parsed;
//   - attest.go, conditions.go: in-toto attestations and the CEL conditions
//     over their predicates;
//   - notation.go, revocation.go: Notary Project signatures, in-process,
//     and their OCSP and CRL checks;
//   - rejections.go: why one signature did not verify, for the verdict;
//   - inspect.go: what an image carries, for `signgate inspect`;
//   - excerpt.go: untrusted error text made safe for messages.
package verify
