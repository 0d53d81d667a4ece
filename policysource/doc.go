// Package policysource is the node's policy, published as a signed OCI
// artifact ([policy_source]): its format, fetching and verifying it exactly
// as an image is verified, refusing a rollback, and keeping the last
// verified one in the state directory for when the source is unreachable.
//
// One file per job:
//
//	artifact.go  the artifact's format: build one, read one
//	fetch.go     resolve, verify its signatures, read it by digest
//	accept.go    the serial must go forward: a replayed older one is refused
//	state.go     the last verified policy, kept on disk
package policysource
